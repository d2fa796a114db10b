"""Moodle REST responses: the JSON or XML body and the headers, for results and for errors."""

from .descriptions import Multiple, Single, Value
from .phpvalues import html_escape, php_json_encode, php_string

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" ?>\n'
COMMON_HEADERS = [
    ("Cache-Control", "private, must-revalidate, pre-check=0, post-check=0, max-age=0"),
    ("Expires", "Thu, 01 Jan 1970 00:00:00 GMT"),
    ("Pragma", "no-cache"),
    ("Accept-Ranges", "none"),
    ("Access-Control-Allow-Origin", "*"),
]
JSON_HEADERS = [("Content-type", "application/json"), *COMMON_HEADERS]  # PHP's spelling, no charset
XML_HEADERS = [
    ("Content-Type", "application/xml; charset=utf-8"),
    ("Content-Disposition", 'inline; filename="response.xml"'),
    *COMMON_HEADERS,
]


def headers_for(response_format):
    return list(JSON_HEADERS if response_format == "json" else XML_HEADERS)


def _xml_scalar(value):
    if value is None:
        return '<VALUE null="null"/>\n'
    kind = type(value)
    if kind is str:
        text = value
    elif kind is int:
        return f"<VALUE>{value}</VALUE>\n"
    else:
        text = php_string(int(value) if kind is bool else value)
    return f"<VALUE>{html_escape(text)}</VALUE>\n"


def _xml_value(value, description):
    if isinstance(description, Multiple):
        content = description.content
        if isinstance(content, Single):  # the common case: a list of records, keys rendered in one pass
            return f"<MULTIPLE>\n{''.join(_xml_single(item, content) for item in value or [])}</MULTIPLE>\n"
        return f"<MULTIPLE>\n{''.join(_xml_value(item, content) for item in value or [])}</MULTIPLE>\n"
    if isinstance(description, Single):
        return _xml_single(value, description)
    return _xml_scalar(value)


def _xml_single(value, description):
    value = value or {}
    parts = ["<SINGLE>\n"]
    for key, sub in description.keys.items():
        item = value.get(key)
        inner = _xml_scalar(item) if isinstance(sub, Value) else _xml_value(item, sub)
        parts.append(f'<KEY name="{key}">{inner}</KEY>\n')
    parts.append("</SINGLE>\n")
    return "".join(parts)


def result_body(value, description, response_format):
    """A cleaned function result as Moodle serialises it."""
    if response_format == "json":
        return php_json_encode(value)
    inner = _xml_value(value, description) if description is not None else ""
    return f"{XML_DECLARATION}<RESPONSE>\n{inner}</RESPONSE>\n"


def error_body(error, response_format, debug_level=0, debug_display=False):
    """Moodle's exception document; ``debuginfo`` only when debugging (level ≥ 15)."""
    message, debuginfo = error.rendered(bool(debug_display) and debug_level == 32767)
    show_debuginfo = debug_level >= 15 and debuginfo is not None
    if response_format == "json":
        document = {"exception": error.exception}
        if error.errorcode is not None:
            document["errorcode"] = error.errorcode
        document["message"] = message
        if show_debuginfo:
            document["debuginfo"] = debuginfo
        return php_json_encode(document)
    parts = [f'{XML_DECLARATION}<EXCEPTION class="{error.exception}">\n']
    if error.errorcode is not None:
        parts.append(f"<ERRORCODE>{html_escape(error.errorcode)}</ERRORCODE>\n")
    parts.append(f"<MESSAGE>{html_escape(message)}</MESSAGE>\n")
    if show_debuginfo:
        parts.append(f"<DEBUGINFO>{html_escape(debuginfo)}</DEBUGINFO>\n")
    parts.append("</EXCEPTION>\n")
    return "".join(parts)
