"""What a non-editable install (``pip install .``, the Dockerfile) ships: every module and every admin asset.

An editable install runs from the checkout and hides anything packaging leaves out, so the wheel is
built here and its contents checked.
"""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_every_module_template_asset_and_vendored_file(tmp_path):
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)]
    subprocess.run(command, check=True, capture_output=True)
    [wheel] = tmp_path.glob("alxbridge-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    modules = {path.relative_to(ROOT).as_posix() for path in (ROOT / "alxbridge").rglob("*.py")}
    assets = {
        path.relative_to(ROOT).as_posix() for path in (ROOT / "alxbridge/admin/static").rglob("*") if path.is_file()
    }
    assert modules - shipped == set()
    assert assets - shipped == set()
    assert "alxbridge/admin/static/vendor/chart.js-4.6.1/chart.umd.min.js" in assets
