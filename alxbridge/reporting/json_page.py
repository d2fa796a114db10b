"""The JSON body of a page of progress rows, written row by row.

The reference path builds each item (:func:`~.formatting.api_item`), cleans it against the
function's return description and ``json_encode``-s the list: three dictionaries per row and a
generic walk over twelve thousand values per page. Here each row goes straight from the reporting
columns into a per-field-set template. A value is only written directly when cleaning provably
leaves it as it is (an ``int``, text without ``<``, a valid e-mail address); any row with another
value takes the reference path, so the bytes are the reference path's bytes in every case
(``tests/test_json_page.py`` checks this on random rows).
"""

from json.encoder import encode_basestring_ascii
from operator import itemgetter

from ..moodle.plugin_settings import FIELD_NAMES
from ..webservice.descriptions import EMAIL_PATTERN
from ..webservice.phpvalues import php_escapes, php_json_encode
from .formatting import api_item, percentage_value, plugin_date

_TEMPLATES = {}  # {enabled fields: (%-template of one item, picker of the enabled values or None for all)}


def _template(fields):
    """``({"userid":%s,…}, picker)`` for the enabled fields, in the description's order.

    ``%`` formatting costs half of ``str.format`` per row; the picker (an ``itemgetter``) takes the
    enabled fields' values out of the twelve, so one template shape serves every field set.
    """
    template = _TEMPLATES.get(fields)
    if template is None:
        members = ",".join(f'"{name}":%s' for name in fields)
        if not fields:  # PHP writes an item without fields, an empty array, as a list
            template = ("[]", lambda values: ())
        elif len(fields) == len(FIELD_NAMES):
            template = ("{" + members + "}", None)
        else:
            indices = [FIELD_NAMES.index(name) for name in fields]
            pick = itemgetter(*indices) if len(indices) > 1 else lambda values: (values[indices[0]],)
            template = ("{" + members + "}", pick)
        _TEMPLATES[fields] = template
    return template


def _spell_text(value):
    """The JSON of a PARAM_TEXT value cleaning leaves as it is (text without ``<``); ``""`` for any other."""
    if type(value) is str and "<" not in value:
        return php_escapes(encode_basestring_ascii(value))
    return ""


def _spell_email(value):
    """The JSON of a PARAM_EMAIL value cleaning leaves as it is (empty or valid); ``""`` for any other."""
    if type(value) is str and (value == "" or (EMAIL_PATTERN.fullmatch(value) and ">" not in value)):
        return php_escapes(encode_basestring_ascii(value))
    return ""


def _spell_percentage(value):
    return php_json_encode(percentage_value(value))


class _Spellings(dict):
    """JSON spellings memoised for one page (a learner's name repeats on each of their courses)."""

    def __init__(self, spell):
        super().__init__()
        self.spell = spell

    def __missing__(self, value):
        spelled = self[value] = self.spell(value)
        return spelled


def encode_page(rows, fields, timezone, render):
    """``(count, last id, JSON body)`` of ``rows`` (tuples of ``pages.REPORTING_COLUMNS``, read once) showing
    ``fields``; the count and the last row's id come along because the rows may be a stream.

    ``render`` is the function's reference renderer (items → cleaned, encoded body); it writes the
    rows the direct path does not vouch for (a spelling of ``""`` marks a value cleaning might change).
    """
    template, pick = _template(tuple(fields))
    texts, emails, percentages = _Spellings(_spell_text), _Spellings(_spell_email), _Spellings(_spell_percentage)
    items, row = [], None
    for row in rows:
        _, userid, courseid, firstname, lastname, email, coursename, completed, started, percentage, status = row
        completed, started = completed or 0, started or 0
        # zero is not memoised: 0 and -0.00 are equal keys with different spellings
        share = percentages[percentage] if percentage else _spell_percentage(percentage)
        spelled = (texts[firstname], texts[lastname], emails[email], texts[coursename], texts[status], share)
        if (
            "" not in spelled
            and type(userid) is int and type(courseid) is int and type(completed) is int and type(started) is int
        ):  # fmt: skip
            first, last, mail, course, state, share = spelled
            values = (
                userid, first, last, mail, courseid, course, f'"{plugin_date(completed, timezone)}"', completed,
                f'"{plugin_date(started, timezone)}"', started, share, state,
            )  # fmt: skip
            items.append(template % (values if pick is None else pick(values)))
        else:
            items.append(render([api_item(row, fields, timezone)])[1:-1])  # the one item of a one-item list
    return len(items), row[0] if items else None, "[" + ",".join(items) + "]"
