"""PHP's spellings of values: ``(string)`` casts, ``json_encode`` and ``htmlspecialchars``.

Clients compare bytes (and some parse loosely), so the bridge writes values exactly as Moodle's PHP
would: ``75`` not ``75.0`` in JSON, ``\\/`` for ``/``, ``\\u00eb`` for ``ë``, 14 significant digits
in XML, ``'`` left unescaped by ``htmlspecialchars(ENT_COMPAT)``.
"""

import json
import math
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
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    return _php_exponent(text, "e") if "e" in text else text


def php_json_encode(value):
    """``json_encode($value)`` with default flags."""
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
        return php_json_encode(str(value))  # PHP sees DB decimals as strings
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=True).replace("/", "\\/")
    if isinstance(value, dict):
        if not value:
            return "[]"  # an empty PHP array is a list
        members = ",".join(f"{php_json_encode(str(k))}:{php_json_encode(v)}" for k, v in value.items())
        return "{" + members + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(php_json_encode(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as PHP would")


def html_escape(text):
    """``htmlspecialchars($text, ENT_COMPAT, 'UTF-8')``: ``& < > "``, not ``'``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
