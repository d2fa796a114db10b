"""Fuzzing the REST endpoint: whatever a client sends, the answer is Moodle-shaped.

Hypothesis varies the method (GET/POST/PUT), the body's content type (form, multipart, text/plain,
JSON, none), where each key travels (query or body), the token (absent, valid, garbage, an array), the
function (site info, course progress, unimplemented, unknown, empty, ``0``, an array), the format key
and extra keys with brackets, dots, spaces and any Unicode. Every answer must be HTTP 200 with Moodle's
headers, parse in the format PHP's rules select (JSON only for exactly ``json``, the POST body winning),
and be either a result (site info, course progress rows) or an envelope with exactly
``exception``/``errorcode``/``message`` — plus ``debuginfo`` only at ``ALX_DEBUG_LEVEL`` ≥ 15.
(The 403 of a site with REST disabled is tested in the checklist.)
"""

import json
import re
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from alxbridge.reporting.service import GET_COURSE_PROGRESS

from .reference_site import BASE_URL, load_reference_site, reference_app
from .rest_support import (
    BAD_TOKEN,
    DISABLED_SERVICE,
    EXPECTED_HEADERS,
    LONER,
    OTHER_SERVICE,
    PROGRESS,
    RELAXED_LIMITS,
    SERVER,
    SITE_INFO,
    SYNC_HEADER_NAMES,
    U10,
    header_names,
    served_headers,
)

DEBUG_LEVELS = {
    "none": {},
    "normal": {"ALX_DEBUG_LEVEL": 15},
    "developer": {"ALX_DEBUG_LEVEL": 32767, "ALX_DEBUG_DISPLAY": 1},
}
SITE_INFO_KEYS = [
    "sitename", "username", "firstname", "lastname", "fullname", "lang", "userid", "siteurl", "userpictureurl",
    "functions", "downloadfiles", "uploadfiles", "release", "version", "mobilecssurl", "advancedfeatures",
    "usercanmanageownfiles", "userquota", "usermaxuploadfilesize", "userhomepage", "userprivateaccesskey", "siteid",
    "sitecalendartype", "usercalendartype", "userissiteadmin", "theme", "limitconcurrentlogins",
]  # fmt: skip
PROGRESS_KEYS = list(GET_COURSE_PROGRESS.returns.content.keys)
ENVELOPE_KEYS = ["exception", "errorcode", "message"]
SUSPENDED, IP_LIMITED = "a1c0ffee000000000000000000050001", "a1c0ffee0000000000000000000f0001"

texts = st.text(max_size=12)
names = st.one_of(
    texts,
    st.sampled_from(["serviceshortnames[]", "serviceshortnames[0]", "serviceshortnames", "foo[0][x]", "a.b", "a b",
                     " lead", "[x]", "[", "x[", "x]", "a[b", "a[]b", "ü.ñ[ï]", "moodlewssettinglang", "limit"]),
    st.builds(lambda a, b: f"{a}[{b}]", texts, texts),
)  # fmt: skip
valid_tokens = st.sampled_from([U10, U10, U10, LONER, OTHER_SERVICE, DISABLED_SERVICE, SUSPENDED, IP_LIMITED])
tokens = st.one_of(
    valid_tokens, valid_tokens, valid_tokens, st.sampled_from(["", "0", BAD_TOKEN, U10.upper(), U10 + " "]), texts
)
functions = st.one_of(
    st.just(SITE_INFO),
    st.just(SITE_INFO),
    st.sampled_from([PROGRESS, "core_course_get_courses", "", "0", "core_no_such"]),
    texts,
)
formats = st.one_of(st.just("json"), st.just("json"), st.sampled_from(["xml", "JSON", "", "json "]), texts)
places = st.sampled_from(["query", "query", "query", "body"])


@st.composite
def requests(draw):
    """A request: (method, body kind, [(name, value, "query" or "body")], debug configuration)."""
    pairs = []

    def add(name, strategy):
        shape = draw(st.sampled_from(["scalar"] * 18 + ["absent", "array"]))
        if shape != "absent":
            pairs.append((name + ("[]" if shape == "array" else ""), draw(strategy), draw(places)))

    add("wstoken", tokens)
    add("wsfunction", functions)
    add("moodlewsrestformat", formats)
    if draw(st.sampled_from([False, False, True])):
        for name, value in draw(st.lists(st.tuples(names, texts), min_size=1, max_size=4)):
            pairs.append((name, value, draw(places)))
    draw(st.randoms()).shuffle(pairs)
    method = draw(st.sampled_from(["GET", "POST", "POST", "PUT"]))
    body = draw(st.sampled_from(["form", "form", "multipart", "text/plain", "json", "none"]))
    return method, body, pairs, draw(st.sampled_from(list(DEBUG_LEVELS)))


def send(client, method, body, pairs):
    query = [(n, v) for n, v, where in pairs if where == "query"]
    fields = [(n, v) for n, v, where in pairs if where == "body"]
    url = SERVER + ("?" + urlencode(query) if query else "")
    content_type, data = {
        "form": ("application/x-www-form-urlencoded", urlencode(fields)),
        "multipart": ("multipart/form-data", fields),
        "text/plain": ("text/plain", urlencode(fields)),
        "json": ("application/json", json.dumps(dict(fields))),
        "none": (None, urlencode(fields)),
    }[body]
    if body == "multipart":
        data = MultiDict(fields)
    return client.open(url, method=method, data=data, content_type=content_type, base_url=BASE_URL)


def php_name(name):
    """(top-level name, is an array) as PHP registers ``name``; None for a name PHP drops."""
    name = name.lstrip(" ")
    bracket = name.find("[")
    if bracket == 0 or not name:
        return None, False
    if bracket > 0 and "]" in name[bracket:]:
        return name[:bracket].replace(".", "_").replace(" ", "_"), True
    return name.replace(".", "_").replace(" ", "_").replace("[", "_"), False


def requested_format(method, body, pairs):
    """PHP: ``array_merge($_GET, $_POST)``, last duplicate wins; ``$_POST`` only for a POST body.

    The bridge reads a text/plain or untyped POST body as a form too (its documented deviation).
    """
    value = None
    body_is_read = method == "POST" and body != "json"
    for where in ("query", "body"):
        for name, text, place in pairs:
            base, is_array = php_name(name)
            if place == where and (where == "query" or body_is_read) and base == "moodlewsrestformat":
                value = None if is_array else text
    return "json" if value == "json" else "xml"


# Characters XML 1.0 forbids. Moodle escapes only & < > " (htmlspecialchars), so a control character a
# client sends comes back inside DEBUGINFO as is, making that document unparseable — in Moodle too.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def parse_xml(body, debuginfo_allowed):
    text = body.decode("utf-8")
    if NOT_XML.search(text):
        assert debuginfo_allowed, "only an echoed debuginfo may carry characters XML forbids"
        text = NOT_XML.sub("", text)
    return ET.fromstring(text)  # noqa: S314 - our own server's answer


def is_progress_list(response, response_format):
    """Whether the answer is a list of progress rows (JSON list, XML ``MULTIPLE``): a successful progress call."""
    if response_format == "json":
        return response.data.startswith(b"[")
    return response.data.startswith(b'<?xml version="1.0" encoding="UTF-8" ?>\n<RESPONSE>\n<MULTIPLE>')


def check_answer(response, response_format, debug):
    assert response.status_code == 200, response.data[:500]
    added = SYNC_HEADER_NAMES if is_progress_list(response, response_format) else []
    headers = served_headers(response.headers.items())
    assert headers[: len(EXPECTED_HEADERS[response_format])] == EXPECTED_HEADERS[response_format]
    assert [name for name, _ in headers[len(EXPECTED_HEADERS[response_format]) :]] == added
    assert "set-cookie" not in header_names(response)
    debuginfo_allowed = DEBUG_LEVELS[debug].get("ALX_DEBUG_LEVEL", 0) >= 15
    if response_format == "json":
        document = json.loads(response.data)
        if isinstance(document, dict) and "exception" in document:
            keys = list(document)
            assert keys in (ENVELOPE_KEYS, [*ENVELOPE_KEYS, "debuginfo"] if debuginfo_allowed else ENVELOPE_KEYS)
            assert all(isinstance(value, str) for value in document.values())
        elif isinstance(document, dict):
            assert list(document) == SITE_INFO_KEYS
        else:  # course progress rows: keys in the description's order, optional ones may be absent
            for row in document:
                assert list(row) == [key for key in PROGRESS_KEYS if key in row]
        return
    assert response.data.startswith(b'<?xml version="1.0" encoding="UTF-8" ?>\n')
    root = parse_xml(response.data, debuginfo_allowed)
    if root.tag == "EXCEPTION":
        assert list(root.attrib) == ["class"]
        children = [child.tag for child in root]
        assert children in (
            ["ERRORCODE", "MESSAGE"],
            ["ERRORCODE", "MESSAGE", "DEBUGINFO"] if debuginfo_allowed else [],
        )
    else:
        assert root.tag == "RESPONSE"
        (result,) = root
        if result.tag == "SINGLE":  # XML lists every key of the description, absent ones as null
            assert [key.get("name") for key in result] == [*SITE_INFO_KEYS, "usersessionscount"]
        else:
            assert result.tag == "MULTIPLE"
            for row in result:
                assert row.tag == "SINGLE"
                assert [key.get("name") for key in row] == PROGRESS_KEYS


def build_apps(url):
    apps = {name: reference_app(url, **RELAXED_LIMITS, **config) for name, config in DEBUG_LEVELS.items()}
    load_reference_site(apps["none"].extensions["alx_database"])
    return apps


@pytest.fixture(scope="module")
def sqlite_apps(new_database):
    with new_database("sqlite") as url:
        apps = build_apps(url)
        yield apps
        for app in apps.values():
            app.extensions["alx_database"].engine.dispose()


@pytest.fixture(scope="module", params=["mysql", "postgres"])
def server_apps(request, new_database):
    """The apps on each database server (MariaDB, PostgreSQL)."""
    with new_database(request.param) as url:
        apps = build_apps(url)
        yield apps
        for app in apps.values():
            app.extensions["alx_database"].engine.dispose()


def fuzz_once(apps, request):
    method, body, pairs, debug = request
    response = send(apps[debug].test_client(), method, body, pairs)
    check_answer(response, requested_format(method, body, pairs), debug)


FUZZ = {"derandomize": True, "deadline": None, "database": None, "suppress_health_check": [HealthCheck.too_slow]}


@settings(max_examples=150, **FUZZ)
@given(request=requests())
def test_fuzz_sqlite(sqlite_apps, request):
    fuzz_once(sqlite_apps, request)


@settings(max_examples=40, **FUZZ)
@given(request=requests())
def test_fuzz_on_a_server(server_apps, request):
    fuzz_once(server_apps, request)
