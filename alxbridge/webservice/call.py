"""A REST call as Moodle's ``parse_request()`` sees it: format, token, function name, parameters."""

from dataclasses import dataclass
from urllib.parse import parse_qsl

from werkzeug.exceptions import RequestEntityTooLarge

from .php_input import SETTINGS_KEYS, merge, parse_query, php_parse

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NEVER_FORM_TYPES = ("application/json",)  # Moodle never reads a JSON body; neither do we


@dataclass(frozen=True)
class Call:
    format: str  # "json" or "xml"
    token: object  # a string, or None when absent (PHP arrays stay as dicts)
    function: object
    params: dict


def _form_pairs(request):
    """Form fields in request order; like PHP's ``$_POST``, only a POST body is read.

    Deliberate difference from Moodle: a POST body without a form content type (Power Query may send
    ``text/plain`` or nothing) is read as ``application/x-www-form-urlencoded``; PHP would ignore it.
    """
    if request.method != "POST":
        return []
    mimetype = request.mimetype or ""
    if mimetype == "multipart/form-data":
        request.get_data()  # keep the raw body: form parsing alone would consume it (pass-through needs it)
        try:
            return list(request.form.items(multi=True))
        except RequestEntityTooLarge:  # past Werkzeug's part/size limits: no form at all, as PHP past post_max_size
            return []
    if mimetype in NEVER_FORM_TYPES:
        return []
    return parse_qsl(request.get_data(as_text=True), keep_blank_values=True)


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
