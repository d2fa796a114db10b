"""The site behind the golden recordings (``shared/data/moodle-reference``), loaded into a test database.

``db-site.tsv`` lists the rows of the real Moodle 4.1 site that answered the 88 recorded requests;
loading them lets a test replay a request against the bridge and compare the bytes.

The site's timestamps are absolute (a future enrolment, an expired token, completions "last week"),
so a bridge serving it must run at the recording's own time, never the day the suite runs: build its
app with :func:`reference_app`, whose clock stands at :data:`RECORDED_AT` (``requests.json`` →
``started_unix``) and moves only when a test advances it.
"""

import json
import subprocess
from pathlib import Path

import sqlalchemy as sa

from alxbridge.schema.sequences import realign_id_sequences

from .conftest import make_app
from .sitebuilder import Clock

CHECKOUT = Path(__file__).resolve().parents[1]


def _shared_folder():
    """``shared/`` beside the checkout (CI), else beside the checkout a local clone was made from."""
    beside = CHECKOUT.parent / "shared"
    if beside.is_dir():
        return beside
    origin = subprocess.run(
        ["git", "-C", str(CHECKOUT), "config", "--get", "remote.origin.url"], capture_output=True, text=True
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        return Path(origin).resolve().parent / "shared"
    return beside


REFERENCE = _shared_folder() / "data" / "moodle-reference"
if not REFERENCE.is_dir():
    raise RuntimeError(f"the golden recordings are missing: expected {REFERENCE} (shared/ beside the checkout)")
BASE_URL = "http://127.0.0.1:8089"
NOW = 1795304481  # the fixture's "now" when the site was set up
RECORDED_AT = json.loads((REFERENCE / "requests.json").read_text(encoding="utf-8"))["started_unix"]
# Rows the recordings imply but db-site.tsv does not list (it covers only the tables named in it).
EXTRA_ROWS = {
    "context": [{"id": 1, "contextlevel": 10, "instanceid": 0, "path": "/1", "depth": 1}],
    "external_functions": [
        {"name": "local_alx_report_api_get_course_progress", "classname": "local_alx_report_api_external",
         "methodname": "get_course_progress", "component": "local_alx_report_api"},
        {"name": "core_webservice_get_site_info", "classname": "core_webservice_external",
         "methodname": "get_site_info", "component": "moodle"},
    ],
    "config": [{"name": "themerev", "value": "1795304601"}, {"name": "siteadmins", "value": "2"}],
    # Moodle's default for the authenticated-user role; the TSV lists only the web service capability.
    "role_capabilities": [{"roleid": 7, "contextid": 1, "capability": "moodle/user:manageownfiles", "permission": 1}],
    "user_private_key": [
        {"script": "core_files", "value": "1016adcb984ef3d96dfee632c3a32ffb", "userid": 10, "timecreated": NOW}
    ],
}  # fmt: skip


def reference_app(url, **config):
    """A bridge app (no scheduler) on ``url`` whose clock stands at the recording's time; ``app.config["CLOCK"]``
    is the :class:`~tests.sitebuilder.Clock` a test advances."""
    return make_app(url, CLOCK=Clock(RECORDED_AT), **config)


def site_tables():
    """``{table: [row dicts]}`` from db-site.tsv, values typed as the TSV shows them (``NULL`` → None)."""
    tables, current, header = {}, None, None
    for line in (REFERENCE / "db-site.tsv").read_text(encoding="utf-8").splitlines():
        if line.startswith("# table "):
            current, header = line.split()[2].removeprefix("mdl_"), None
            tables[current] = []
        elif not line:
            current = None
        elif current and header is None:
            header = line.split("\t")
        elif current:
            values = [None if v == "NULL" else v for v in line.split("\t")]
            tables[current].append(dict(zip(header, values, strict=True)))
    return tables


def _complete(table, row):
    """Fill NOT NULL columns without a default that the TSV leaves out, and type the values."""
    filled = {}
    for column in table.columns:
        if column.name in row:
            value = row[column.name]
            if value is not None and isinstance(column.type, sa.Integer):
                value = int(value)
            filled[column.name] = value
        elif not column.nullable and column.server_default is None and not column.primary_key:
            filled[column.name] = 0 if isinstance(column.type, sa.Integer) else ""
    return filled


def load_reference_site(database):
    """Create every table and insert the reference site's rows."""
    database.schema.metadata.create_all(database.engine)
    data = site_tables()
    for name, rows in EXTRA_ROWS.items():
        data.setdefault(name, []).extend(rows)
    with database.begin() as connection:
        for name, rows in data.items():
            table = getattr(database.tables, name)
            connection.execute(table.insert(), [_complete(table, row) for row in rows])
        realign_id_sequences(connection, database.schema.metadata.sorted_tables)


def recordings():
    """``{file name: request}`` from requests.json."""
    requests = json.loads((REFERENCE / "requests.json").read_text(encoding="utf-8"))["requests"]
    return {request["file"]: request for request in requests}


def recorded_response(file_name):
    """(status line, [(header, value)], body bytes) of a recording."""
    raw = (REFERENCE / file_name).read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(line.split(": ", 1)) for line in lines]
    return status, headers, body
