"""The package's dependency direction (docs/architecture.md), checked on the source of every module.

Every ``import`` and ``from … import`` is read with :mod:`ast` (function-level imports included,
relative ones resolved), so a forbidden import fails here even on a path no other test runs.
"""

import ast
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "alxbridge"

WEB_FRAMEWORK = ("flask", "flask_caching", "flask_limiter", "flask_wtf", "werkzeug", "jinja2", "alxbridge.extensions")
ADMIN_PAGES = ("alxbridge.admin",)
# Parts that must run without a request: the CLI, the scheduler's jobs and the benchmarks use them outside Flask.
NO_WEB_FRAMEWORK = ("db", "moodle", "schema", "sync", "reporting", "jobs", "alerts", "metrics")
RULES = (
    *((part, WEB_FRAMEWORK + ADMIN_PAGES) for part in NO_WEB_FRAMEWORK),
    # The protocol layer serves whatever function the app factory registers; it never imports one.
    ("webservice", ("alxbridge.reporting", *ADMIN_PAGES)),
    ("operations", ADMIN_PAGES),
    ("demo", ADMIN_PAGES),
)


def module_name(path, root):
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path, root):
    """``(line, module)`` for every import in the file at ``path``, relative imports made absolute."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            yield node.lineno, module
            # ``from alxbridge import admin`` imports the admin package too.
            yield from ((node.lineno, f"{module}.{alias.name}") for alias in node.names)


def violations(root=PACKAGE_ROOT, rules=RULES):
    """Every import that breaks a rule, as ``"file:line imports module"``."""
    found = []
    for part, forbidden in rules:
        for path in sorted((root / part).rglob("*.py")):
            reported_lines = set()
            for line, module in imported_modules(path, root):
                if line in reported_lines:
                    continue
                if any(module == banned or module.startswith(banned + ".") for banned in forbidden):
                    found.append(f"{path.relative_to(root.parent)}:{line} imports {module}")
                    reported_lines.add(line)
    return found


def test_every_part_imports_only_what_its_layer_allows():
    found = violations()
    assert not found, "imports against docs/architecture.md's direction:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "part, source",
    [
        ("sync", "from flask import current_app\n"),
        ("reporting", "def later():\n    from ..admin.layout import page\n"),
        ("moodle", "import werkzeug.exceptions\n"),
        ("webservice", "from ..reporting.service import GET_COURSE_PROGRESS\n"),
        ("metrics", "from alxbridge import admin\n"),
    ],
)
def test_a_forbidden_import_is_reported_with_its_file_and_line(tmp_path, part, source):
    root = tmp_path / "alxbridge"
    (root / part).mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / part / "__init__.py").write_text("")
    (root / part / "bad.py").write_text('"""A module breaking the layering."""\n' + source)
    found = violations(root)
    assert len(found) == 1 and found[0].startswith(f"alxbridge/{part}/bad.py:"), found
