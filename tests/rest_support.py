"""Helpers for the REST protocol tests: tokens of the reference site, Moodle's headers, expected
envelopes written independently of the bridge's renderer, and reversible edits of the site."""

import json
from urllib.parse import urlencode

import sqlalchemy as sa

from .reference_site import BASE_URL, _complete, recorded_response

SERVER = "/webservice/rest/server.php"
SITE_INFO = "core_webservice_get_site_info"
PROGRESS = "local_alx_report_api_get_course_progress"

# Tokens of the reference site (shared/data/moodle-reference/README.md).
U10 = "a1c0ffee00000000000000000000c001"  # u10, service 3 (progress + site info)
LONER = "a1c0ffee0000000000000000000c0000"  # u3, service 3: the user whose state the tests change
OTHER_SERVICE = "a1c0ffee000000000000000000070001"  # u12, service 4 (site info only)
DISABLED_SERVICE = "a1c0ffee000000000000000000d50001"  # u12, service 5 (disabled)
BAD_TOKEN = "deadbeefdeadbeefdeadbeefdeadbeef"

# Limits far above what a test sends: the abuse shield has its own tests.
RELAXED_LIMITS = {
    "ALX_RATELIMIT_PER_IP": "100000/minute",
    "ALX_RATELIMIT_PER_TOKEN": "100000/minute",
    "ALX_RATELIMIT_FAILED_AUTH": "100000/minute",
}

COMMON_HEADERS = [
    ("Cache-Control", "private, must-revalidate, pre-check=0, post-check=0, max-age=0"),
    ("Expires", "Thu, 01 Jan 1970 00:00:00 GMT"),
    ("Pragma", "no-cache"),
    ("Accept-Ranges", "none"),
    ("Access-Control-Allow-Origin", "*"),
]
EXPECTED_HEADERS = {
    "json": [("Content-type", "application/json"), *COMMON_HEADERS],
    "xml": [
        ("Content-Type", "application/xml; charset=utf-8"),
        ("Content-Disposition", 'inline; filename="response.xml"'),
        *COMMON_HEADERS,
    ],
}
MOODLE_HEADER_NAMES = {"content-type", "content-disposition", *(name.lower() for name, _ in COMMON_HEADERS)}
# Set by the WSGI server, not by Moodle (PHP's built-in server closed the connection instead of sending it).
TRANSPORT_HEADER_NAMES = {"content-length"}
# What a successful get_course_progress answer adds after Moodle's headers (issue 15), and nothing else does.
SYNC_HEADER_NAMES = ["X-ALX-Sync-Mode", "X-ALX-Sync-Since", "X-ALX-Sync-Version"]


def recorded_site_info(response_format):
    """The body real Moodle sent for u10's site info (files 49 and 51)."""
    name = "49-q-site-info-u10-post.txt" if response_format == "json" else "51-q-site-info-u10-xml.txt"
    return recorded_response(name)[2]


def header_names(response):
    return {name.lower() for name, _ in response.headers.items()}


def moodle_headers(response):
    """Moodle's own headers, in order and spelled as sent."""
    return [(name, value) for name, value in response.headers.items() if name.lower() in MOODLE_HEADER_NAMES]


def served_headers(headers):
    """``(name, value)`` pairs in order, without the transport's (``headers``: a response's or a recording's)."""
    return [(name, value) for name, value in headers if name.lower() not in TRANSPORT_HEADER_NAMES]


def sync_headers(response):
    """The values of the answer's ``X-ALX-Sync-*`` headers, in :data:`SYNC_HEADER_NAMES` order."""
    return tuple(response.headers.get(name) for name in SYNC_HEADER_NAMES)


def assert_moodle_response(response, response_format, body=None):
    """HTTP 200, exactly Moodle's headers for the format and no other, no cookie, and (when given) exactly ``body``."""
    assert response.status_code == 200, response.data[:300]
    assert served_headers(response.headers.items()) == EXPECTED_HEADERS[response_format]
    assert "set-cookie" not in header_names(response)
    if body is not None:
        assert response.data == body


def php_json_string(text):
    """A string as PHP's ``json_encode`` writes it (``\\uXXXX`` and ``\\/``)."""
    return json.dumps(text, ensure_ascii=True).replace("/", "\\/")


def html_escape(text):
    """``htmlspecialchars(ENT_COMPAT)``: ``'`` stays."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def envelope(response_format, exception, errorcode, message, debuginfo=None):
    """The bytes of Moodle's exception document; ``debuginfo`` is written when not None."""
    if response_format == "json":
        members = [("exception", exception), ("errorcode", errorcode), ("message", message)]
        if debuginfo is not None:
            members.append(("debuginfo", debuginfo))
        return ("{" + ",".join(f'"{k}":{php_json_string(v)}' for k, v in members) + "}").encode()
    lines = [
        '<?xml version="1.0" encoding="UTF-8" ?>',
        f'<EXCEPTION class="{exception}">',
        f"<ERRORCODE>{html_escape(errorcode)}</ERRORCODE>",
        f"<MESSAGE>{html_escape(message)}</MESSAGE>",
    ]
    if debuginfo is not None:
        lines.append(f"<DEBUGINFO>{html_escape(debuginfo)}</DEBUGINFO>")
    lines.append("</EXCEPTION>")
    return ("\n".join(lines) + "\n").encode()


def call(client, query=(), method="GET", form=None, content_type=None, **kwargs):
    """One request to server.php; ``query`` and ``form`` are lists of pairs (``form`` may be raw text)."""
    url = SERVER + ("?" + urlencode(list(query)) if query else "")
    data = None
    if form is not None:
        data = form if isinstance(form, (str, bytes, dict)) else urlencode(list(form))
        if content_type is None:
            content_type = "application/x-www-form-urlencoded"
    return client.open(url, method=method, data=data, content_type=content_type, base_url=BASE_URL, **kwargs)


class SiteChanges:
    """Edits of the reference site that :meth:`restore` undoes, so each test starts from the recorded site."""

    def __init__(self, database):
        self.database = database
        self._undo = []

    def _table(self, name):
        return getattr(self.database.tables, name)

    def update(self, table_name, where, **values):
        table = self._table(table_name)
        condition = sa.and_(*(table.c[k] == v for k, v in where.items()))
        with self.database.begin() as connection:
            old = [dict(row) for row in connection.execute(sa.select(table).where(condition)).mappings()]
            assert old, f"no {table_name} row matches {where}"
            connection.execute(sa.update(table).where(condition).values(**values))

        def undo(connection):
            for row in old:
                connection.execute(sa.update(table).where(table.c.id == row["id"]).values(**row))

        self._undo.append(undo)

    def insert(self, table_name, **values):
        table = self._table(table_name)
        with self.database.begin() as connection:
            new_id = connection.execute(table.insert().values(**_complete(table, values))).inserted_primary_key[0]
        self._undo.append(lambda connection: connection.execute(sa.delete(table).where(table.c.id == new_id)))
        return new_id

    def delete(self, table_name, **where):
        table = self._table(table_name)
        condition = sa.and_(*(table.c[k] == v for k, v in where.items()))
        with self.database.begin() as connection:
            old = [dict(row) for row in connection.execute(sa.select(table).where(condition)).mappings()]
            connection.execute(sa.delete(table).where(condition))
        self._undo.append(lambda connection: old and connection.execute(table.insert(), old))

    def config(self, name, value):
        """Set ``mdl_config.name`` (``None`` removes it)."""
        table = self._table("config")
        with self.database.begin() as connection:
            exists = connection.execute(sa.select(table.c.id).where(table.c.name == name)).first()
        if exists and value is None:
            self.delete("config", name=name)
        elif exists:
            self.update("config", {"name": name}, value=value)
        elif value is not None:
            self.insert("config", name=name, value=value)

    def token(self, token, userid, service_id=3, **values):
        """A permanent token for ``userid`` on ``service_id``."""
        return self.insert(
            "external_tokens", token=token, tokentype=0, userid=userid, externalserviceid=service_id,
            contextid=1, timecreated=1792712481, **values,
        )  # fmt: skip

    def restore(self):
        with self.database.begin() as connection:
            for undo in reversed(self._undo):
                undo(connection)
        self._undo.clear()
