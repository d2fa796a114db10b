"""PHP's spellings of values: ``(string)`` casts, ``json_encode`` and ``htmlspecialchars``.

Clients compare bytes (and some parse loosely), so the bridge writes values exactly as Moodle's PHP
would: ``75`` not ``75.0`` in JSON, ``\\/`` for ``/``, ``\\u00eb`` for ``ë``, 14 significant digits
in XML, ``'`` left unescaped by ``htmlspecialchars(ENT_COMPAT)``.
"""

import json
import math
import re
from decimal import Decimal


def _php_exponent(text, exponent_letter):
    """``1e+20``/``1E+20`` → PHP's ``1.0e+20``/``1.0E+20``; exponent without leading zeros."""
    mantissa, _, exponent = text.lower().partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}{exponent_letter}{sign}{int(exponent.lstrip('+-'))}"


def php_float_string(value):
    """``(string)$float`` with PHP's default ``precision = 14``."""
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    text = f"{value:.14G}"
    return _php_exponent(text, "E") if "E" in text else text


def php_string(value):
    """``(string)$value`` for the scalars a database or a function returns."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, float):
        return php_float_string(value)
    return str(value)


def _json_float(value):
    """PHP's ``serialize_precision = -1``: the shortest round-trip digits (as Python's ``repr``), written
    without an exponent while the decimal point lies between -3 and 17 digits (``1.0e+17``, ``1.0e-5``)."""
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    if not math.isfinite(value):
        return "0"  # PHP's json_encode cannot encode INF/NAN; JSON_PARTIAL_OUTPUT_ON_ERROR writes 0
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digits))
    point = len(digits) + exponent  # PHP's decpt: where the decimal point falls in the digits
    prefix = "-" if sign else ""
    if point > 17 or point < -3:
        return f"{prefix}{digits[0]}.{digits[1:] or '0'}e{'-' if point < 1 else '+'}{abs(point - 1)}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


_ESCAPED_DELETE = re.compile(r"(?<!\\)((?:\\\\)*)\\u007f")


def php_escapes(json_text):
    """Python's JSON → PHP's: ``/`` escaped as ``\\/``, DEL (0x7f) left as it is."""
    json_text = json_text.replace("/", "\\/")
    return _ESCAPED_DELETE.sub("\\1\x7f", json_text) if "\\u007f" in json_text else json_text


class _NeedsPhpEncoder(Exception):
    """A value whose PHP spelling ``json.dumps`` does not produce (tiny or huge floats, ``-0.0``, INF)."""


_PLAIN = (str, int, bool, type(None))


def _json_ready(value):
    """``value`` with PHP's types for ``json.dumps``: integral floats as ints, decimals as strings,
    empty dicts as lists; raises :class:`_NeedsPhpEncoder` for floats only PHP's rules can spell."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        if 1e-4 <= abs(value) < 1e15:
            return int(value) if value.is_integer() else value
        if value == 0 and math.copysign(1.0, value) > 0:
            return 0
        raise _NeedsPhpEncoder
    if kind is dict:
        if not value:
            return []
        return {
            (k if type(k) is str else str(k)): (v if type(v) in _PLAIN else _json_ready(v)) for k, v in value.items()
        }
    if kind is list or kind is tuple:
        return [v if type(v) in _PLAIN else _json_ready(v) for v in value]
    if kind is Decimal:
        return str(value)
    raise _NeedsPhpEncoder


def php_json_encode(value):
    """``json_encode($value)`` with default flags.

    A page of a thousand rows goes through C's ``json.dumps`` once; only values whose PHP spelling
    differs from Python's (see :func:`_json_ready`) take the value-by-value path below.
    """
    try:
        ready = _json_ready(value)
    except _NeedsPhpEncoder:
        return _php_json_encode_each(value)
    return php_escapes(json.dumps(ready, ensure_ascii=True, separators=(",", ":"), allow_nan=False))


def _php_json_encode_each(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, Decimal):
        return _php_json_encode_each(str(value))  # PHP sees DB decimals as strings
    if isinstance(value, str):
        return php_escapes(json.dumps(value, ensure_ascii=True))
    if isinstance(value, dict):
        if not value:
            return "[]"  # an empty PHP array is a list
        members = ",".join(f"{_php_json_encode_each(str(k))}:{_php_json_encode_each(v)}" for k, v in value.items())
        return "{" + members + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_php_json_encode_each(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as PHP would")


def html_escape(text):
    """``htmlspecialchars($text, ENT_COMPAT, 'UTF-8')``: ``& < > "``, not ``'``."""
    if "&" not in text and "<" not in text and ">" not in text and '"' not in text:
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
