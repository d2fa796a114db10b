"""The REST contract's §9 checklist, one table row per behaviour, each in JSON and in XML.

Rows the golden replay already proves byte for byte against real Moodle (invalid, missing, expired and
IP-restricted tokens, suspended user, missing/unknown/not-in-service function, disabled service, site info)
are not repeated; what they left open is here. Every row asserts the exact body bytes, HTTP 200 and
Moodle's headers (``Content-type`` for JSON, ``Content-Type`` + ``Content-Disposition`` for XML, the
cache headers, ``Access-Control-Allow-Origin``, no cookie). Success rows are compared with the bytes real
Moodle sent for u10's site info (recordings 49 and 51). Error rows run at ``ALX_DEBUG_LEVEL=15`` unless
the row says otherwise, so that the debuginfo text is checked too.
"""

import json
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from alxbridge.webservice.descriptions import DEFAULT, Multiple, Single, Value, validate_parameters
from alxbridge.webservice.exceptions import MoodleError
from alxbridge.webservice.phpvalues import html_escape, php_json_encode, php_string
from alxbridge.webservice.rendering import result_body

from .reference_site import load_reference_site, reference_app
from .rest_support import (
    BAD_TOKEN,
    DISABLED_SERVICE,
    LONER,
    OTHER_SERVICE,
    PROGRESS,
    RELAXED_LIMITS,
    SITE_INFO,
    U10,
    SiteChanges,
    assert_moodle_response,
    call,
    envelope,
    header_names,
    recorded_site_info,
)

ADMIN = "a1c0ffee0000000000000000000ad001"
DELETED = "a1c0ffee00000000000000000000de15"
ACCESS_DEBUGINFO = """Access to the function {}() is not allowed.
                     There could be multiple reasons for this:
                     1. The service linked to the user token does not contain the function.
                     2. The service is user-restricted and the user is not listed.
                     3. The service is IP-restricted and the user IP is not listed.
                     4. The service is time-restricted and the time has expired.
                     5. The token is time-restricted and the time has expired.
                     6. The service requires a specific capability which the user does not have.
                     7. The function is called with username/password (no user token is sent)
                     and none of the services has the function to allow the user.
                     These settings can be found in Administration > Site administration
                     > Server > Web services > External services and Manage tokens."""
CONFIGS = {
    "debug0": {"ALX_DEBUG_LEVEL": 0},
    "debug5": {"ALX_DEBUG_LEVEL": 5},
    "debug15": {"ALX_DEBUG_LEVEL": 15},
    "display15": {"ALX_DEBUG_LEVEL": 15, "ALX_DEBUG_DISPLAY": 1},
    "developer": {"ALX_DEBUG_LEVEL": 32767},
    "developer_display": {"ALX_DEBUG_LEVEL": 32767, "ALX_DEBUG_DISPLAY": 1},
}


# --- expectations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Error:
    """An expected Moodle envelope; ``debuginfo`` is the text expected in the document (None: absent)."""

    exception: str
    errorcode: str
    message: str
    debuginfo: str | None = None

    def body(self, response_format):
        return envelope(response_format, self.exception, self.errorcode, self.message, self.debuginfo)


class SiteInfoOfU10:
    """u10's site info exactly as real Moodle sent it, optionally with one JSON/XML fragment replaced."""

    def __init__(self, json_change=None, xml_change=None):
        self.changes = {"json": json_change, "xml": xml_change}

    def body(self, response_format):
        body = recorded_site_info(response_format)
        change = self.changes[response_format]
        if change:
            assert change[0] in body
            body = body.replace(*change)
        return body


SITE_INFO_U10 = SiteInfoOfU10()
INVALID_TOKEN = Error("moodle_exception", "invalidtoken", "Invalid token - token not found")


def invalid_parameter(debuginfo):
    return Error("invalid_parameter_exception", "invalidparameter", "Invalid parameter value detected", debuginfo)


def access_exception(debuginfo):
    return Error("webservice_access_exception", "accessexception", "Access control exception", debuginfo)


def not_allowed(function):
    return access_exception(ACCESS_DEBUGINFO.format(function))


def refused(errorcode, reason, username):
    return Error("moodle_exception", errorcode, f"Refused web service access for {reason} username: {username}")


def missing_record(errorcode, message, table, value):
    debuginfo = f"SELECT * FROM {{{table}}} WHERE {'name' if table == 'external_functions' else 'id'} = ?\n"
    return Error("dml_missing_record_exception", errorcode, message, debuginfo + f"[array (\n  0 => '{value}',\n)]")


def alphanumext_rejected(value):
    return invalid_parameter(
        "serviceshortnames => Invalid parameter value detected: Invalid external api parameter: "
        f'the value is "{value}", the server was expecting "alphanumext" type'
    )


# --- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One checklist row: a request (the format key is added per variant), site edits, the answer."""

    name: str
    query: list
    expect: object
    method: str = "GET"
    form: object = None
    content_type: str | None = None
    setup: object = None  # callable(SiteChanges)
    config: str = "debug15"
    formats: tuple = ("json", "xml")
    format_in: str = "query"  # where the JSON variant puts moodlewsrestformat=json


def site_info(token=U10, *more):
    return [("wstoken", token), ("wsfunction", SITE_INFO), *more]


def _restrict_service(changes, **user_row):
    """Service 3 restricted to listed users; ``user_row`` lists one (an ``external_services_users`` row)."""
    changes.update("external_services", {"id": 3}, restrictedusers=1)
    if user_row:
        changes.insert("external_services_users", externalserviceid=3, timecreated=1, **user_row)


def _user(**values):
    return lambda changes: changes.update("user", {"id": 3}, **values)


def _deleted_user(changes):
    changes.update("user", {"id": 15}, deleted=1, suspended=1)
    changes.token(DELETED, 15)


def _admin_token(changes):
    changes.token(ADMIN, 2)


def _no_rest_capability(changes):
    changes.delete("role_capabilities", capability="webservice/rest:use")


SETTINGS = [
    ("moodlewssettingraw", "1"),
    ("moodlewssettingfileurl", "0"),
    ("moodlewssettingfilter", "1"),
    ("moodlewssettinglang", "fr"),
    ("moodlewssettingtimezone", "Europe/Paris"),
]
SPECIAL_SITENAME = 'Tom & Jerry\'s <"Site"> ë /'

ROWS = [
    # 1. any HTTP method is answered by the REST server (no Flask automatic OPTIONS, no 405)
    Row("options_without_token_is_invalidtoken", [], INVALID_TOKEN, method="OPTIONS"),
    Row("options_with_token_runs_the_call", site_info(), SITE_INFO_U10, method="OPTIONS"),
    Row("put_reads_the_query", site_info(), SITE_INFO_U10, method="PUT"),
    Row("patch_reads_the_query", site_info(), SITE_INFO_U10, method="PATCH"),
    Row("delete_reads_the_query", site_info(), SITE_INFO_U10, method="DELETE"),
    Row("post_without_body_reads_the_query", site_info(), SITE_INFO_U10, method="POST"),
    # PHP fills $_POST for POST only: a form body sent with PUT is not read
    Row("put_form_body_is_not_read", [], INVALID_TOKEN, method="PUT", form=site_info()),
    # 2. query ∪ form, form wins, last duplicate wins, PHP names
    Row("post_form_only", [], SITE_INFO_U10, method="POST", form=site_info(), format_in="form"),
    Row(
        "multipart_form",
        [],
        SITE_INFO_U10,
        method="POST",
        form=dict(site_info()),
        format_in="form",
        content_type="multipart/form-data",
    ),
    Row("form_token_wins_over_query_token", [("wstoken", BAD_TOKEN)], SITE_INFO_U10, method="POST", form=site_info()),
    Row("query_token_loses_to_form_token", site_info(), INVALID_TOKEN, method="POST", form=[("wstoken", BAD_TOKEN)]),
    Row("last_duplicate_query_key_wins", [("wstoken", BAD_TOKEN), *site_info()], SITE_INFO_U10),
    Row("first_duplicate_query_key_loses", [*site_info(), ("wstoken", BAD_TOKEN)], INVALID_TOKEN),
    Row("last_duplicate_form_key_wins", [], SITE_INFO_U10, method="POST", form=[("wstoken", BAD_TOKEN), *site_info()]),
    Row(
        "dot_and_space_in_names_become_underscore",
        site_info(U10, ("a.b", "1"), ("c d", "2")),
        invalid_parameter("Unexpected keys (a_b, c_d) detected in parameter array."),
    ),
    Row(
        "unexpected_keys_list_query_keys_then_form_keys",
        site_info(U10, ("zq", "1")),
        invalid_parameter("Unexpected keys (zq, af) detected in parameter array."),
        method="POST",
        form=[("af", "1"), ("zq", "2")],
    ),
    Row("leading_bracket_name_is_dropped_like_php", site_info(U10, ("[x]", "1"), ("[", "2")), SITE_INFO_U10),
    Row(
        "php_list_accepted_by_site_info",
        site_info(U10, ("serviceshortnames[]", "x"), ("serviceshortnames[]", "y")),
        SITE_INFO_U10,
    ),
    Row("php_indexed_list_accepted_by_site_info", site_info(U10, ("serviceshortnames[3]", "a_b-1")), SITE_INFO_U10),
    Row(
        "php_array_under_unknown_name_is_unexpected",
        site_info(U10, ("foo[0]", "1")),
        invalid_parameter("Unexpected keys (foo) detected in parameter array."),
    ),
    Row(
        "scalar_where_a_list_is_declared",
        site_info(U10, ("serviceshortnames", "x")),
        invalid_parameter(
            "serviceshortnames => Invalid parameter value detected: Only arrays accepted. The bad value is: 'x'"
        ),
    ),
    Row(
        "nested_array_where_a_scalar_is_declared",
        site_info(U10, ("serviceshortnames[0][0]", "x")),
        invalid_parameter(
            "serviceshortnames => Invalid parameter value detected: Scalar type expected, array or object received."
        ),
    ),
    Row("alphanumext_rejects_space", site_info(U10, ("serviceshortnames[]", "a b")), alphanumext_rejected("a b")),
    Row("alphanumext_rejects_dot", site_info(U10, ("serviceshortnames[]", "a.b")), alphanumext_rejected("a.b")),
    Row("alphanumext_rejects_non_ascii", site_info(U10, ("serviceshortnames[]", "ë")), alphanumext_rejected("ë")),
    Row("alphanumext_accepts_empty", site_info(U10, ("serviceshortnames[]", "")), SITE_INFO_U10),
    # past Werkzeug's multipart limits (1000 parts, 500 kB a field) the body counts as no form, as in PHP past
    # post_max_size: an envelope, never Werkzeug's HTML 413
    Row(
        "multipart_with_too_many_parts_is_no_form",
        [],
        INVALID_TOKEN,
        method="POST",
        form={**dict(site_info()), **{f"k{i}": "v" for i in range(1100)}},
        content_type="multipart/form-data",
    ),
    Row(
        "multipart_with_a_huge_field_is_no_form",
        [],
        INVALID_TOKEN,
        method="POST",
        form={**dict(site_info()), "big": "x" * 600_000},
        content_type="multipart/form-data",
    ),
    # bodies that are not forms
    Row(
        "json_body_is_not_parsed",
        [],
        INVALID_TOKEN,
        method="POST",
        form=json.dumps(dict(site_info())),
        content_type="application/json",
    ),
    Row(
        "json_body_with_charset_is_not_parsed",
        [],
        INVALID_TOKEN,
        method="POST",
        form=json.dumps(dict(site_info())),
        content_type="application/json; charset=utf-8",
    ),
    Row(
        "text_plain_body_is_parsed_as_form_documented_deviation",
        [],
        SITE_INFO_U10,
        method="POST",
        form="wstoken=" + U10 + "&wsfunction=" + SITE_INFO,
        content_type="text/plain",
    ),
    Row(
        "body_without_content_type_is_parsed_as_form_documented_deviation",
        [],
        SITE_INFO_U10,
        method="POST",
        form="wstoken=" + U10 + "&wsfunction=" + SITE_INFO,
        content_type="",
    ),
    # 4. the moodlewssetting* keys are accepted and removed
    Row("settings_keys_in_query_are_stripped", site_info(U10, *SETTINGS), SITE_INFO_U10),
    Row("settings_keys_in_form_are_stripped", site_info(), SITE_INFO_U10, method="POST", form=SETTINGS),
    # 5. authentication, in Moodle's order
    Row("deleted_user", site_info(DELETED), refused("wsaccessuserdeleted", "deleted", "u15"), setup=_deleted_user),
    Row(
        "unconfirmed_user",
        site_info(LONER),
        refused("wsaccessuserunconfirmed", "unconfirmed", "loner"),
        setup=_user(confirmed=0),
    ),
    Row(
        "unconfirmed_comes_before_suspended",
        site_info(LONER),
        refused("wsaccessuserunconfirmed", "unconfirmed", "loner"),
        setup=_user(confirmed=0, suspended=1),
    ),
    Row(
        "suspended_comes_before_nologin",
        site_info(LONER),
        refused("wsaccessusersuspended", "suspended", "loner"),
        setup=_user(suspended=1, auth="nologin"),
    ),
    Row(
        "nologin_user",
        site_info(LONER),
        refused("wsaccessusernologin", "nologin authentication", "loner"),
        setup=_user(auth="nologin"),
    ),
    Row(
        "maintenance_mode",
        site_info(),
        Error(
            "moodle_exception", "sitemaintenance", "The site is undergoing maintenance and is currently not available"
        ),
        setup=lambda changes: changes.config("maintenance_enabled", "1"),
    ),
    Row(
        "maintenance_comes_before_deleted",
        site_info(DELETED),
        Error(
            "moodle_exception", "sitemaintenance", "The site is undergoing maintenance and is currently not available"
        ),
        setup=lambda changes: (_deleted_user(changes), changes.config("maintenance_enabled", "1")),
    ),
    Row(
        "maintenance_disabled_by_zero",
        site_info(),
        SITE_INFO_U10,
        setup=lambda changes: changes.config("maintenance_enabled", "0"),
    ),
    Row(
        "missing_context_row",
        site_info(LONER),
        missing_record("invalidrecord", "Can't find data record in database table context.", "context", 999),
        setup=lambda changes: changes.update("external_tokens", {"token": LONER}, contextid=999),
    ),
    Row(
        "missing_user_row",
        site_info(LONER),
        missing_record("invaliduser", "Invalid user", "user", 999),
        setup=lambda changes: changes.update("external_tokens", {"token": LONER}, userid=999),
    ),
    Row(
        "missing_rest_capability",
        site_info(),
        access_exception("You are not allowed to use the rest protocol (missing capability: webservice/rest:use)"),
        setup=_no_rest_capability,
    ),
    Row(
        "rest_capability_checked_before_the_function_name",
        [("wstoken", U10)],
        access_exception("You are not allowed to use the rest protocol (missing capability: webservice/rest:use)"),
        setup=_no_rest_capability,
    ),
    Row(
        "rest_capability_prohibited_at_system",
        site_info(),
        access_exception("You are not allowed to use the rest protocol (missing capability: webservice/rest:use)"),
        setup=lambda changes: (
            changes.insert("role_assignments", roleid=5, contextid=1, userid=10),
            changes.insert(
                "role_capabilities", roleid=5, contextid=1, capability="webservice/rest:use", permission=-1000
            ),
        ),
    ),
    Row(
        "token_valid_until_the_future",
        site_info(),
        SITE_INFO_U10,
        setup=lambda changes: changes.update("external_tokens", {"token": U10}, validuntil=4102444800),
    ),
    Row(
        "token_ip_restriction_matching_the_client",
        site_info(),
        SITE_INFO_U10,
        setup=lambda changes: changes.update("external_tokens", {"token": U10}, iprestriction="10.0.0.1, 127.0.0.0/8"),
    ),
    # 6. restricted services, requiredcapability, function errors
    Row("restricted_service_user_not_listed", site_info(), not_allowed(SITE_INFO), setup=_restrict_service),
    Row(
        "restricted_service_user_listed",
        site_info(),
        SITE_INFO_U10,
        setup=lambda changes: _restrict_service(changes, userid=10),
    ),
    Row(
        "restricted_service_listed_for_another_user",
        site_info(),
        not_allowed(SITE_INFO),
        setup=lambda changes: _restrict_service(changes, userid=3),
    ),
    Row(
        "restricted_service_validuntil_zero",
        site_info(),
        SITE_INFO_U10,
        setup=lambda changes: _restrict_service(changes, userid=10, validuntil=0),
    ),
    # Moodle's own SQL says su.validuntil < now: a past date grants, a future one does not
    Row(
        "restricted_service_validuntil_past_grants_moodle_quirk",
        site_info(),
        SITE_INFO_U10,
        setup=lambda changes: _restrict_service(changes, userid=10, validuntil=1000),
    ),
    Row(
        "restricted_service_validuntil_future_denies_moodle_quirk",
        site_info(),
        not_allowed(SITE_INFO),
        setup=lambda changes: _restrict_service(changes, userid=10, validuntil=4102444800),
    ),
    Row(
        "restricted_service_ip_not_matching",
        site_info(),
        not_allowed(SITE_INFO),
        setup=lambda changes: _restrict_service(changes, userid=10, iprestriction="10.0.0.0/8"),
    ),
    Row(
        "restricted_service_ip_matching",
        site_info(),
        SITE_INFO_U10,
        setup=lambda changes: _restrict_service(changes, userid=10, iprestriction="192.168.1.1,127.0.0.1"),
    ),
    Row(
        "required_capability_missing",
        site_info(),
        not_allowed(SITE_INFO),
        setup=lambda changes: changes.update("external_services", {"id": 3}, requiredcapability="moodle/site:config"),
    ),
    Row(
        "required_capability_granted",
        site_info(),
        SITE_INFO_U10,
        setup=lambda changes: (
            changes.update("external_services", {"id": 3}, requiredcapability="moodle/site:config"),
            changes.insert("role_capabilities", roleid=7, contextid=1, capability="moodle/site:config", permission=1),
        ),
    ),
    Row("function_name_empty", [("wstoken", U10), ("wsfunction", "")], invalid_parameter("Missing function name")),
    Row(
        "function_name_zero_is_empty_in_php",
        [("wstoken", U10), ("wsfunction", "0")],
        invalid_parameter("Missing function name"),
    ),
    Row(
        "function_unknown",
        [("wstoken", U10), ("wsfunction", "core_no_such_function")],
        missing_record(
            "invalidrecord",
            "Can't find data record in database table external_functions.",
            "external_functions",
            "core_no_such_function",
        ),
    ),
    Row("function_not_in_service", [("wstoken", OTHER_SERVICE), ("wsfunction", PROGRESS)], not_allowed(PROGRESS)),
    Row(
        "function_in_disabled_service",
        [("wstoken", DISABLED_SERVICE), ("wsfunction", SITE_INFO)],
        not_allowed(SITE_INFO),
    ),
    # 9. serialisation: escaping in both formats (sitename is PARAM_RAW)
    Row(
        "escaping_of_special_characters",
        site_info(),
        SiteInfoOfU10(
            (b'"sitename":"Ref"', b'"sitename":"Tom & Jerry\'s <\\"Site\\"> \\u00eb \\/"'),
            (
                b'<KEY name="sitename"><VALUE>Ref</VALUE>',
                b'<KEY name="sitename"><VALUE>Tom &amp; Jerry\'s &lt;&quot;Site&quot;&gt; \xc3\xab /</VALUE>',
            ),
        ),
        setup=lambda changes: changes.update("course", {"id": 1}, fullname=SPECIAL_SITENAME),
    ),
    # 10. debuginfo only at level >= 15, the message suffix only at 32767 with display on
    Row("debug_level_0_hides_debuginfo", site_info(U10, ("foo", "1")), invalid_parameter(None), config="debug0"),
    Row("debug_level_5_hides_debuginfo", site_info(U10, ("foo", "1")), invalid_parameter(None), config="debug5"),
    Row(
        "debug_display_needs_developer_level",
        site_info(U10, ("foo", "1")),
        invalid_parameter("Unexpected keys (foo) detected in parameter array."),
        config="display15",
    ),
    Row(
        "developer_level_without_display",
        site_info(U10, ("foo", "1")),
        invalid_parameter("Unexpected keys (foo) detected in parameter array."),
        config="developer",
    ),
    Row(
        "developer_level_with_display_appends_debuginfo",
        site_info(U10, ("foo", "1")),
        Error(
            "invalid_parameter_exception",
            "invalidparameter",
            "Invalid parameter value detected (Unexpected keys (foo) detected in parameter array.)",
            "Unexpected keys (foo) detected in parameter array.",
        ),
        config="developer_display",
    ),
    Row(
        "developer_display_nests_the_suffix_like_moodle",
        site_info(U10, ("serviceshortnames[]", "a b")),
        Error(
            "invalid_parameter_exception",
            "invalidparameter",
            "Invalid parameter value detected (serviceshortnames => Invalid parameter value detected "
            '(Invalid external api parameter: the value is "a b", the server was expecting "alphanumext" type): '
            'Invalid external api parameter: the value is "a b", the server was expecting "alphanumext" type)',
            "serviceshortnames => Invalid parameter value detected (Invalid external api parameter: the value is "
            '"a b", the server was expecting "alphanumext" type): Invalid external api parameter: the value is '
            '"a b", the server was expecting "alphanumext" type',
        ),
        config="developer_display",
    ),
    Row(
        "developer_display_without_debuginfo_adds_nothing",
        [("wstoken", BAD_TOKEN)],
        INVALID_TOKEN,
        config="developer_display",
    ),
    Row(
        "developer_display_access_exception",
        [("wstoken", OTHER_SERVICE), ("wsfunction", PROGRESS)],
        Error(
            "webservice_access_exception",
            "accessexception",
            f"Access control exception ({ACCESS_DEBUGINFO.format(PROGRESS)})",
            ACCESS_DEBUGINFO.format(PROGRESS),
        ),
        config="developer_display",
    ),
]

# 3. the format: json only when exactly "json", form wins over query; XML otherwise
FORMAT_ROWS = [
    Row("format_json", [("moodlewsrestformat", "json")], INVALID_TOKEN, formats=("json",), format_in="none"),
    Row("format_xml", [("moodlewsrestformat", "xml")], INVALID_TOKEN, formats=("xml",), format_in="none"),
    Row("format_absent_is_xml", [], INVALID_TOKEN, formats=("xml",), format_in="none"),
    Row(
        "format_uppercase_JSON_is_xml",
        [("moodlewsrestformat", "JSON")],
        INVALID_TOKEN,
        formats=("xml",),
        format_in="none",
    ),
    Row("format_foo_is_xml", [("moodlewsrestformat", "foo")], INVALID_TOKEN, formats=("xml",), format_in="none"),
    Row(
        "format_json_with_space_is_xml",
        [("moodlewsrestformat", "json ")],
        INVALID_TOKEN,
        formats=("xml",),
        format_in="none",
    ),
    Row("format_array_is_xml", [("moodlewsrestformat[]", "json")], INVALID_TOKEN, formats=("xml",), format_in="none"),
    Row(
        "format_form_wins_over_query",
        [("moodlewsrestformat", "xml")],
        INVALID_TOKEN,
        formats=("json",),
        format_in="none",
        method="POST",
        form=[("moodlewsrestformat", "json")],
    ),
    Row(
        "format_last_duplicate_wins",
        [("moodlewsrestformat", "json"), ("moodlewsrestformat", "xml")],
        INVALID_TOKEN,
        formats=("xml",),
        format_in="none",
    ),
    Row(
        "format_applies_to_success",
        [*site_info(), ("moodlewsrestformat", "json")],
        SITE_INFO_U10,
        formats=("json",),
        format_in="none",
    ),
]


def _variants(rows):
    return [pytest.param(row, fmt, id=f"{row.name}-{fmt}") for row in rows for fmt in row.formats]


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(database_url):
    """The reference site, and one app per debug configuration on it."""
    apps = {name: reference_app(database_url, **RELAXED_LIMITS, **config) for name, config in CONFIGS.items()}
    database = apps["debug0"].extensions["alx_database"]
    load_reference_site(database)
    yield apps, database
    for app in apps.values():
        app.extensions["alx_database"].engine.dispose()


@pytest.fixture
def changes(site):
    edits = SiteChanges(site[1])
    yield edits
    edits.restore()


def send(site, changes, row, response_format):
    apps, _ = site
    if row.setup:
        row.setup(changes)
    query, form = list(row.query), row.form
    if response_format == "json" and row.format_in == "query":
        query.append(("moodlewsrestformat", "json"))
    elif response_format == "json" and row.format_in == "form":
        json_format = {"moodlewsrestformat": "json"}
        form = {**form, **json_format} if isinstance(form, dict) else [*form, *json_format.items()]
    client = apps[row.config].test_client()
    return call(client, query, method=row.method, form=form, content_type=row.content_type)


@pytest.mark.parametrize(("row", "response_format"), _variants(ROWS + FORMAT_ROWS))
def test_checklist_row(site, changes, row, response_format):
    response = send(site, changes, row, response_format)
    assert_moodle_response(response, response_format, row.expect.body(response_format))
    assert "allow" not in header_names(response)


# --- rows that need more than one request or a parsed answer ---------------------------------------


@pytest.mark.parametrize("response_format", ["json", "xml"])
@pytest.mark.parametrize("setup", ["maintenance", "no_rest_capability"])
def test_site_admin_bypasses_maintenance_and_capabilities(site, changes, setup, response_format):
    changes.token(ADMIN, 2)
    if setup == "maintenance":
        changes.config("maintenance_enabled", "1")
    else:
        _no_rest_capability(changes)
    query = [*site_info(ADMIN), *([("moodlewsrestformat", "json")] if response_format == "json" else [])]
    response = call(site[0]["debug15"].test_client(), query)
    assert_moodle_response(response, response_format)
    if response_format == "json":
        info = json.loads(response.data)
        assert (info["username"], info["userid"], info["userissiteadmin"]) == ("admin", 2, True)
    else:
        assert b'<KEY name="username"><VALUE>admin</VALUE>\n</KEY>' in response.data
        assert b'<KEY name="userissiteadmin"><VALUE>1</VALUE>\n</KEY>' in response.data


def _lastaccess(database):
    tokens = database.tables.external_tokens
    with database.connect() as connection:
        return connection.execute(sa.select(tokens.c.lastaccess).where(tokens.c.token == U10)).scalar()


def test_lastaccess_is_updated_at_most_once_a_minute(site, changes):
    apps, database = site
    client = apps["debug0"].test_client()
    changes.update("external_tokens", {"token": U10}, lastaccess=None)
    assert_moodle_response(call(client, site_info()), "xml", SITE_INFO_U10.body("xml"))
    first = _lastaccess(database)
    assert first == database.now()

    recent = first - 30  # updated less than a minute ago: left alone
    changes.update("external_tokens", {"token": U10}, lastaccess=recent)
    call(client, site_info())
    assert _lastaccess(database) == recent

    old = database.now() - 60  # a minute ago: refreshed
    changes.update("external_tokens", {"token": U10}, lastaccess=old)
    call(client, site_info())
    assert _lastaccess(database) >= old + 60

    changes.update("external_tokens", {"token": U10}, lastaccess=recent)
    call(client, [("wstoken", BAD_TOKEN), ("wsfunction", SITE_INFO)])  # another token: untouched
    assert _lastaccess(database) == recent


@pytest.mark.parametrize("response_format", ["json", "xml"])
def test_failing_call_after_authentication_still_records_lastaccess(site, changes, response_format):
    apps, database = site
    changes.update("external_tokens", {"token": U10}, lastaccess=None)
    query = [("wstoken", U10), ("wsfunction", "core_no_such_function")]
    if response_format == "json":
        query.append(("moodlewsrestformat", "json"))
    assert_moodle_response(call(apps["debug0"].test_client(), query), response_format)
    assert _lastaccess(database) is not None


# 1. REST disabled: 403 with an empty body, whatever the request
REST_OFF = [
    pytest.param({"enablewebservices": "0"}, id="enablewebservices_0"),
    pytest.param({"enablewebservices": ""}, id="enablewebservices_empty"),
    pytest.param({"enablewebservices": None}, id="enablewebservices_unset"),
    pytest.param({"webserviceprotocols": "soap,xmlrpc"}, id="protocols_without_rest"),
    pytest.param({"webserviceprotocols": ""}, id="protocols_empty"),
    pytest.param({"webserviceprotocols": "soap, rest"}, id="protocols_with_space_like_moodle"),  # not trimmed
]


@pytest.mark.parametrize("config", REST_OFF)
@pytest.mark.parametrize(
    "query", [site_info(), site_info(U10, ("moodlewsrestformat", "json")), []], ids=["xml", "json", "no_token"]
)
def test_rest_disabled_is_403_with_empty_body(site, changes, config, query):
    for name, value in config.items():
        changes.config(name, value)
    response = call(site[0]["debug15"].test_client(), query)
    assert response.status_code == 403
    assert response.data == b""
    assert "set-cookie" not in header_names(response)


@pytest.mark.parametrize("response_format", ["json", "xml"])
def test_rest_among_several_protocols_is_enabled(site, changes, response_format):
    changes.config("webserviceprotocols", "soap,rest,xmlrpc")
    query = site_info(U10, *([("moodlewsrestformat", "json")] if response_format == "json" else []))
    assert_moodle_response(
        call(site[0]["debug0"].test_client(), query), response_format, SITE_INFO_U10.body(response_format)
    )


# 5. the token's IP restriction sees the client address after ProxyFix (ALX_TRUSTED_PROXIES)
IP_LIMITED = "a1c0ffee0000000000000000000f0001"  # u13, iprestriction 10.99.0.0/16


@pytest.fixture(scope="module")
def proxied_apps(site):
    url = site[0]["debug0"].config["ALX_DATABASE_URL"]
    apps = {hops: reference_app(url, ALX_DEBUG_LEVEL=15, ALX_TRUSTED_PROXIES=hops, **RELAXED_LIMITS) for hops in (0, 1)}
    yield apps
    for app in apps.values():
        app.extensions["alx_database"].engine.dispose()


@pytest.mark.parametrize("response_format", ["json", "xml"])
@pytest.mark.parametrize(
    ("hops", "forwarded_for", "seen_ip"),
    [
        (1, "10.99.3.4", None),  # behind one trusted proxy: the client's address counts
        (0, "10.99.3.4", "127.0.0.1"),  # no trusted proxy: the header is the client's word, ignored
        (1, "10.99.3.4, 192.0.2.9", "192.0.2.9"),  # only the hop our proxy added is trusted
    ],
)
def test_token_ip_restriction_behind_a_proxy(proxied_apps, hops, forwarded_for, seen_ip, response_format):
    query = site_info(IP_LIMITED, *([("moodlewsrestformat", "json")] if response_format == "json" else []))
    response = call(proxied_apps[hops].test_client(), query, headers={"X-Forwarded-For": forwarded_for})
    if seen_ip is None:
        assert_moodle_response(response, response_format)
        assert b"u13" in response.data and b"EXCEPTION" not in response.data and b"exception" not in response.data
    else:
        debuginfo = f"Invalid service - IP:{seen_ip} is not supported - check this allowed user"
        assert_moodle_response(response, response_format, access_exception(debuginfo).body(response_format))


# --- 7. PARAM_INT, through the validation layer -----------------------------------------------------

LIMIT = Single({"limit": Value("int", DEFAULT, 100)})
ACCEPTED_INTS = [
    ("5", 5),
    ("-5", -5),
    ("0", 0),
    ("100", 100),
    ("9223372036854775807", 2**63 - 1),
    ("-9223372036854775808", -(2**63)),
]
REJECTED_INTS = [
    "05",
    " 5",
    "5 ",
    "+5",
    "5.0",
    "1e3",
    "-0",
    "0x1A",
    "abc",
    "",
    "9999999999999999999",
    "9223372036854775808",
    "5_0",
    "٥",
    "--5",
    "5-",
]


@pytest.mark.parametrize(("text", "value"), ACCEPTED_INTS)
def test_param_int_accepts(text, value):
    assert validate_parameters(LIMIT, {"limit": text}) == {"limit": value}


@pytest.mark.parametrize("text", REJECTED_INTS)
def test_param_int_rejects(text):
    with pytest.raises(MoodleError) as raised:
        validate_parameters(LIMIT, {"limit": text})
    error = raised.value
    assert (error.exception, error.errorcode, error.message) == (
        "invalid_parameter_exception", "invalidparameter", "Invalid parameter value detected",
    )  # fmt: skip
    assert error.debuginfo == (
        "limit => Invalid parameter value detected: Invalid external api parameter: "
        f'the value is "{text}", the server was expecting "int" type'
    )


def test_param_int_default_array_and_unexpected_keys():
    assert validate_parameters(LIMIT, {}) == {"limit": 100}
    with pytest.raises(MoodleError) as raised:
        validate_parameters(LIMIT, {"limit": {"0": "5"}})
    assert raised.value.debuginfo == (
        "limit => Invalid parameter value detected: Scalar type expected, array or object received."
    )
    with pytest.raises(MoodleError) as raised:
        validate_parameters(LIMIT, {"limit": "5", "foo": "1", "bar": "2"})
    assert raised.value.debuginfo == "Unexpected keys (foo, bar) detected in parameter array."


# --- 9. serialisation units ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (75.0, "75"), (100.0, "100"), (0.0, "0"), (-0.0, "-0"), (-3.0, "-3"), (66.66666666666667, "66.66666666666667"),
        (0.1 + 0.2, "0.30000000000000004"), (0.5, "0.5"), (1e15, "1000000000000000"),
        (1.2345678901234568e16, "12345678901234568"), (1e17, "1.0e+17"), (1.5e20, "1.5e+20"),
        (0.0001, "0.0001"), (0.00001, "1.0e-5"), (1.5e-7, "1.5e-7"),
        ("https://x/y", '"https:\\/\\/x\\/y"'), ("Zoë", '"Zo\\u00eb"'), ("😀", '"\\ud83d\\ude00"'),
        ("O'Brien & \"Co\" <b>", '"O\'Brien & \\"Co\\" <b>"'), ([], "[]"), ({}, "[]"), (None, "null"),
        (True, "true"), (False, "false"), ({"a": [1, 2.0]}, '{"a":[1,2]}'), ({"a": {}}, '{"a":[]}'),
    ],
)  # fmt: skip
def test_php_json_encode(value, encoded):
    assert php_json_encode(value) == encoded


def test_xml_escaping_and_float_precision():
    assert html_escape("& < > \" '") == "&amp; &lt; &gt; &quot; '"
    assert php_string(66.66666666666667) == "66.666666666667"
    assert php_string(75.0) == "75"
    assert php_string(1e14) == "1.0E+14"
    assert php_string(True) == "1"


RESULT = Multiple(
    Single({"flag": Value("bool"), "name": Value("raw"), "score": Value("float"), "gone": Value("int", 2)})
)


@pytest.mark.parametrize(
    ("value", "response_format", "body"),
    [
        ([], "json", b"[]"),
        ([], "xml", b'<?xml version="1.0" encoding="UTF-8" ?>\n<RESPONSE>\n<MULTIPLE>\n</MULTIPLE>\n</RESPONSE>\n'),
        ([{"flag": True, "name": "a&b", "score": 75.0}], "json", b'[{"flag":true,"name":"a&b","score":75}]'),
        ([{"flag": False, "name": "<'\">", "score": 66.66666666666667}], "xml",
         b'<?xml version="1.0" encoding="UTF-8" ?>\n<RESPONSE>\n<MULTIPLE>\n<SINGLE>\n'
         b'<KEY name="flag"><VALUE>0</VALUE>\n</KEY>\n'
         b"<KEY name=\"name\"><VALUE>&lt;'&quot;&gt;</VALUE>\n</KEY>\n"
         b'<KEY name="score"><VALUE>66.666666666667</VALUE>\n</KEY>\n'
         b'<KEY name="gone"><VALUE null="null"/>\n</KEY>\n'
         b"</SINGLE>\n</MULTIPLE>\n</RESPONSE>\n"),
        ([{"flag": True, "name": None, "score": 1.0}], "xml",
         b'<?xml version="1.0" encoding="UTF-8" ?>\n<RESPONSE>\n<MULTIPLE>\n<SINGLE>\n'
         b'<KEY name="flag"><VALUE>1</VALUE>\n</KEY>\n'
         b'<KEY name="name"><VALUE null="null"/>\n</KEY>\n'
         b'<KEY name="score"><VALUE>1</VALUE>\n</KEY>\n'
         b'<KEY name="gone"><VALUE null="null"/>\n</KEY>\n'
         b"</SINGLE>\n</MULTIPLE>\n</RESPONSE>\n"),
    ],
)  # fmt: skip
def test_result_serialisation(value, response_format, body):
    assert result_body(value, RESULT, response_format).encode() == body
