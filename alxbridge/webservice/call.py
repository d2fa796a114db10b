"""A REST call as Moodle's ``parse_request()`` sees it: format, token, function name, parameters."""

from dataclasses import dataclass
from urllib.parse import parse_qsl

from werkzeug.exceptions import RequestEntityTooLarge

from .php_input import SETTINGS_KEYS, merge, parse_query, php_parse

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NEVER_FORM_TYPES = ("application/json",)  # Moodle never reads a JSON body; neither do we
MAX_INPUT_VARS = 1000  # PHP's default max_input_vars: fields past it are dropped, never parsed


@dataclass(frozen=True)
class Call:
    format: str  # "json" or "xml"
    token: object  # a string, or None when absent (PHP arrays stay as dicts)
    function: object
    params: dict


def _first_fields(body):
    """The first :data:`MAX_INPUT_VARS` fields of a URL-encoded body; the rest is never parsed."""
    return parse_qsl("&".join(body.split("&", MAX_INPUT_VARS)[:MAX_INPUT_VARS]), keep_blank_values=True)


def _form_pairs(request):
    """Form fields in request order; like PHP's ``$_POST``, only a POST body is read.

    A body past ``ALX_MAX_REQUEST_BYTES`` (Flask's ``MAX_CONTENT_LENGTH``), or a multipart body past
    Werkzeug's part limits, is not read at all, as PHP ignores a POST past ``post_max_size``: the call is
    read from the query alone, so an unauthenticated client cannot make a worker buffer a huge body.

    Deliberate difference from Moodle: a POST body without a form content type (Power Query may send
    ``text/plain`` or nothing) is read as ``application/x-www-form-urlencoded``; PHP would ignore it.
    """
    if request.method != "POST":
        return []
    mimetype = request.mimetype or ""
    if mimetype in NEVER_FORM_TYPES:
        return []
    try:
        if mimetype == "multipart/form-data":
            request.get_data()  # keep the raw body: form parsing alone would consume it (pass-through needs it)
            return list(request.form.items(multi=True))[:MAX_INPUT_VARS]
        return _first_fields(request.get_data(as_text=True))
    except RequestEntityTooLarge:
        return []


def parse_call(request):
    """Read the call from a Werkzeug request; the format is fixed first so every error can use it."""
    query = parse_query(request.query_string.decode("utf-8", "replace"))
    params = merge(query, php_parse(_form_pairs(request)))
    response_format = "json" if params.pop("moodlewsrestformat", None) == "json" else "xml"
    for key in SETTINGS_KEYS:
        params.pop(key, None)
    token = params.pop("wstoken", None)
    function = params.pop("wsfunction", None)
    return Call(response_format, token, function, params)
