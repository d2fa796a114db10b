"""deploy/alxbridge.service: systemd's own checker finds nothing, and a fresh install has every path it needs.

``systemd-analyze verify`` (Debian's ``systemd`` package; ``./run tests`` installs it) parses the unit as
systemd would load it and checks that its commands exist. It runs on the shipped file with one change: the
install folder ``/opt/alxbridge/app`` is this checkout, whose venv holds the ``gunicorn`` that
``ExecStart=`` names, as a venv install (docs/operations.md §2) has it.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "alxbridge.service"
INSTALL_FOLDER = "/opt/alxbridge/app"


def unit_lines(key):
    return [line.split("=", 1)[1] for line in UNIT.read_text().splitlines() if line.startswith(key + "=")]


def test_systemd_analyze_verify_is_clean(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing (apt-get install systemd); ./run tests installs it", pytrace=False)
    venv = Path(sys.executable).parent.parent
    assert (venv / "bin" / "gunicorn").exists(), "the test venv has no gunicorn"
    unit = tmp_path / "alxbridge.service"
    # The checkout's venv may live elsewhere than <checkout>/.venv: map the venv first, then the folder.
    text = UNIT.read_text().replace(f"{INSTALL_FOLDER}/.venv", str(venv)).replace(INSTALL_FOLDER, str(ROOT))
    unit.write_text(text)
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_a_fresh_install_has_every_path_the_unit_needs():
    """A ReadWritePaths= entry that does not exist stops the unit at start (226/NAMESPACE); instance/ is
    git-ignored and used only without ALX_SECRET_KEY, so it must be optional ("-")."""
    [paths] = unit_lines("ReadWritePaths")
    ignored = subprocess.run(
        ["git", "-C", str(ROOT), "check-ignore", "-q", "instance/"], capture_output=True, timeout=30
    ).returncode
    assert ignored == 0, "instance/ is expected to be git-ignored (a fresh clone lacks it)"
    for path in paths.split():
        assert path.startswith("-"), f"{path} is required but a fresh clone does not have it"
    assert unit_lines("WorkingDirectory") == [INSTALL_FOLDER]
