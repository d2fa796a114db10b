"""The README documents exactly the settings config.py reads, and the two set-up commands CI relies on."""

import re
from pathlib import Path

import config

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_configuration_table_lists_every_setting_and_no_other():
    documented = set(re.findall(r"^\| `(ALX_[A-Z_]+)` \|", README, flags=re.MULTILINE))
    assert documented == set(config.DEFAULTS)


def test_ci_runs_the_readme_test_command():
    assert "./run tests" in README and "./run demo" in README
    assert "./run tests" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
