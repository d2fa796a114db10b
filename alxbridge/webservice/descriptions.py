"""Moodle's external function descriptions: how parameters are validated and return values cleaned.

``Value``, ``Single`` and ``Multiple`` are ``external_value``, ``external_single_structure`` and
``external_multiple_structure``. :func:`validate_parameters` applies ``external_api::validate_parameters``
(strict ``PARAM_INT``, defaults, "Unexpected keys"), :func:`clean_returnvalue` applies
``clean_returnvalue`` (description key order, unknown keys dropped, types coerced). One deliberate
difference: text that ``PARAM_TEXT``/``PARAM_EMAIL`` would change (a tag-like name, an invalid address)
is cleaned and reported instead of failing the whole response, which in Moodle loses the page.
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit

from .exceptions import invalid_parameter, invalid_response
from .phpvalues import php_string

REQUIRED, DEFAULT, OPTIONAL = 1, 0, 2  # VALUE_REQUIRED, VALUE_DEFAULT, VALUE_OPTIONAL

INT_PATTERN = re.compile(r"-?(?:0|[1-9][0-9]*)")
FLOAT_PATTERN = re.compile(r"[+-]?[0-9]*\.?[0-9]*(?:e[-+]?[0-9]+)?", re.IGNORECASE)
EMAIL_PATTERN = re.compile(  # PHPMailer's "html5" validator, which Moodle's validate_email() uses
    r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
)
TAG_PATTERN = re.compile(r"<(?:[^\s>][^>]*)?(?:>|$)|<!--.*?(?:-->|$)", re.DOTALL)
PLUGIN_PATTERN = re.compile(r"[a-z](?:[a-z0-9_](?!__))*[a-z0-9]")
INT64 = 2**63


def strip_tags(text):
    """PHP ``strip_tags``: drop ``<…>`` tags (an unclosed one to the end); ``a < b`` stays."""
    return TAG_PATTERN.sub("", text)


def _clean_int(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        return int(value)
    match = re.match(r"\s*[+-]?[0-9]+", str(value))
    return int(match.group()) if match else 0


def _clean_email(value):
    text = str(value)
    return text if text == "" or (EMAIL_PATTERN.fullmatch(text) and not re.search("[<>]", text)) else ""


def _clean_url(value):
    text = str(value)
    parts = urlsplit(text)
    return text if parts.scheme in ("http", "https") and parts.netloc and " " not in text else ""


CLEANERS = {
    "int": _clean_int,
    "float": lambda v: float(v),
    "bool": lambda v: (
        bool(_clean_int(v)) if not isinstance(v, str) or v.strip() not in ("", "false", "no", "off") else False
    ),
    "raw": lambda v: v,
    "text": lambda v: strip_tags(str(v)),
    "notags": lambda v: strip_tags(str(v)),
    "email": _clean_email,
    "url": _clean_url,
    "alphanum": lambda v: re.sub(r"[^A-Za-z0-9]", "", str(v)),
    "alphanumext": lambda v: re.sub(r"[^A-Za-z0-9_-]", "", str(v)),
    "alias": lambda v: re.sub(r"[^A-Za-z0-9_-]", "", str(v)),
    "lang": lambda v: str(v) if re.fullmatch(r"[a-z]{2,3}(?:_[a-z0-9]+)*", str(v)) else "",
    "plugin": lambda v: str(v) if PLUGIN_PATTERN.fullmatch(str(v)) else "",
    "theme": lambda v: str(v) if PLUGIN_PATTERN.fullmatch(str(v)) else "",
}
LENIENT_TYPES = {"text", "notags", "email"}  # cleaned and reported rather than failing a response


@dataclass(frozen=True)
class Value:
    """``external_value``: a scalar of a ``PARAM_*`` type (given as Moodle's string, e.g. ``"int"``)."""

    type: str
    required: int = REQUIRED
    default: object = None
    allow_null: bool = True

    def __post_init__(self):
        if self.type not in CLEANERS:
            raise ValueError(f"unsupported PARAM type {self.type!r}")


@dataclass(frozen=True)
class Single:
    """``external_single_structure``: named keys, emitted in this order."""

    keys: dict
    required: int = REQUIRED
    default: object = None


@dataclass(frozen=True)
class Multiple:
    """``external_multiple_structure``: a list of ``content``."""

    content: object
    required: int = REQUIRED
    default: object = field(default=None)


def _wrap(key, error):
    """Prefix a nested error with its key, as Moodle re-throws it."""
    message, debuginfo = error.rendered()
    return type(error)(
        error.exception, error.errorcode, error.message, f"{key} => {message}: {debuginfo or ''}", wrapped=(key, error)
    )


def validate_param(value, param_type, allow_null, debuginfo, error=invalid_parameter):
    """Moodle's ``validate_param``: the cleaned value must read back exactly as sent."""
    if value is None:
        if allow_null:
            return None
        raise error(debuginfo)
    if isinstance(value, (dict, list)):
        raise error(debuginfo)
    if param_type == "int" and isinstance(value, str):
        if not INT_PATTERN.fullmatch(value) or value == "-0" or not -INT64 <= int(value) < INT64:
            raise error(debuginfo)
        return int(value)
    if param_type == "float":
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            return float(value)
        if not FLOAT_PATTERN.fullmatch(str(value)) or not re.search("[0-9]", str(value)):
            raise error(debuginfo)
        return float(value)
    cleaned = CLEANERS[param_type](value)
    if php_string(value) != php_string(cleaned):
        raise error(debuginfo)
    return cleaned


def validate_parameters(description, params):
    """``external_api::validate_parameters`` for request parameters (strings and nested lists/dicts)."""
    if isinstance(description, Value):
        if isinstance(params, (dict, list)):
            raise invalid_parameter("Scalar type expected, array or object received.")
        if description.type == "bool" and params in (True, False, 0, 1, "0", "1"):
            return bool(int(params))
        debuginfo = (
            f'Invalid external api parameter: the value is "{php_string(params)}", '
            f'the server was expecting "{description.type}" type'
        )
        return validate_param(params, description.type, description.allow_null, debuginfo)
    if isinstance(description, Single):
        if not isinstance(params, dict):
            raise invalid_parameter(f"Only arrays accepted. The bad value is: '{php_string(params)}'")
        remaining = dict(params)
        result = {}
        for key, sub in description.keys.items():
            if key not in remaining:
                if sub.required == REQUIRED:
                    raise invalid_parameter(f"Missing required key in single structure: {key}")
                if sub.required == DEFAULT:
                    result[key] = sub.default
                continue
            try:
                result[key] = validate_parameters(sub, remaining.pop(key))
            except Exception as error:
                if getattr(error, "errorcode", None) != "invalidparameter":
                    raise
                raise _wrap(key, error) from None
        if remaining:
            raise invalid_parameter(f"Unexpected keys ({', '.join(remaining)}) detected in parameter array.")
        return result
    if not isinstance(params, (list, dict)):
        raise invalid_parameter(f"Only arrays accepted. The bad value is: '{php_string(params)}'")
    items = params.values() if isinstance(params, dict) else params
    return [validate_parameters(description.content, item) for item in items]


def clean_returnvalue(description, value, report=lambda key, original, cleaned: None):
    """``external_api::clean_returnvalue``; ``report(key, original, cleaned)`` hears about cleaned text.

    The description is compiled once into nested cleaners (:func:`_cleaner`), because a page of a
    thousand rows passes twelve thousand values through here.
    """
    return _cleaner(description)(value, report, None)


_CLEANERS_BY_DESCRIPTION = {}


def _cleaner(description):
    entry = _CLEANERS_BY_DESCRIPTION.get(id(description))
    if entry is None or entry[0] is not description:
        entry = (description, _compile(description))
        _CLEANERS_BY_DESCRIPTION[id(description)] = entry
    return entry[1]


def _compile(description):
    if isinstance(description, Value):
        return _value_cleaner(description)
    if isinstance(description, Single):
        return _single_cleaner(description)
    return _multiple_cleaner(description)


def _clean_value(description, value, report, key):
    """The general rule for one scalar: coerce as Moodle does, or fail the response."""
    if isinstance(value, (dict, list)):
        raise invalid_response("Scalar type expected, array or object received.")
    if description.type == "bool" and (isinstance(value, bool) or value in (0, 1, "0", "1")):
        return bool(int(value))
    if description.type in LENIENT_TYPES and value is not None:
        cleaned = CLEANERS[description.type](value)
        if php_string(cleaned) != php_string(value):
            report(key, value, cleaned)
        return cleaned
    debuginfo = (
        f'Invalid external api response: the value is "{php_string(value)}" of PHP type '
        f'"{_php_type(value)}", the server was expecting "{description.type}" type'
    )
    return validate_param(value, description.type, description.allow_null, debuginfo, invalid_response)


def _value_cleaner(description):
    """The general rule, behind a shortcut for values that already have the right form."""
    param_type = description.type
    if param_type == "int":

        def already_clean(value):
            return type(value) is int
    elif param_type == "float":

        def already_clean(value):
            return type(value) is float
    elif param_type in ("text", "notags"):

        def already_clean(value):
            return type(value) is str and "<" not in value
    elif param_type == "email":

        def already_clean(value):
            return type(value) is str and (value == "" or (EMAIL_PATTERN.fullmatch(value) and ">" not in value))
    else:

        def already_clean(value):
            return False

    def clean(value, report, key):
        return value if already_clean(value) else _clean_value(description, value, report, key)

    return clean


def _single_cleaner(description):
    keys = [(key, _compile(sub), sub.required, sub.default) for key, sub in description.keys.items()]

    def clean(value, report, _key):
        if not isinstance(value, dict):
            raise invalid_response(f"Only arrays/objects accepted. The bad value is: '{php_string(value)}'")
        result = {}
        for key, sub_clean, required, default in keys:
            if key not in value:
                if required == REQUIRED:
                    raise invalid_response(
                        f"Error in response - Missing following required key in a single structure: {key}"
                    )
                if required == DEFAULT:
                    result[key] = default
                continue
            try:
                result[key] = sub_clean(value[key], report, key)
            except Exception as error:
                if getattr(error, "errorcode", None) != "invalidresponse":
                    raise
                raise _wrap(key, error) from None
        return result

    return clean


def _multiple_cleaner(description):
    content = _compile(description.content)

    def clean(value, report, key):
        if not isinstance(value, (list, tuple)):
            raise invalid_response(f"Only arrays accepted. The bad value is: '{php_string(value)}'")
        return [content(item, report, key) for item in value]

    return clean


def _php_type(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, Decimal)):
        return "double"
    return "string" if isinstance(value, str) else "NULL" if value is None else "array"
