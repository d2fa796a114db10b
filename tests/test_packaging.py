"""What a non-editable install (pip install ., the Dockerfile) ships: every module and every admin asset."""

from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def test_every_folder_of_python_code_is_a_package():
    """A folder without __init__.py is skipped by find_packages: the editable install hides that, a wheel does not."""
    shipped = set(find_packages(str(ROOT), include=["alxbridge*"]))
    code_folders = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "alxbridge").rglob("*.py")}
    assert code_folders <= shipped, code_folders - shipped


def test_the_admin_assets_are_package_data():
    manifest = (ROOT / "MANIFEST.in").read_text()
    assert "recursive-include alxbridge/admin/static *" in manifest
    assert (ROOT / "alxbridge/admin/static/vendor/chart.js-4.6.1/chart.umd.min.js").is_file()
