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

from ..plugin_settings import FIELD_NAMES
from ..webservice.descriptions import EMAIL_PATTERN
from ..webservice.phpvalues import php_escapes, php_json_encode
from .formatting import api_item, percentage_value, plugin_date

_TEMPLATES = {}  # {enabled fields: str.format template of one item}


def _template(fields):
    """``{"userid":{0},…}`` for the enabled fields, in the description's order, as a format string."""
    template = _TEMPLATES.get(fields)
    if template is None:
        members = ",".join(f'"{name}":{{{FIELD_NAMES.index(name)}}}' for name in fields)
        # PHP writes an item without fields, an empty array, as a list
        template = _TEMPLATES[fields] = "{{" + members + "}}" if fields else "[]"
    return template


class _Texts:
    """JSON spellings of the page's strings, memoised (a learner's name repeats on each of their courses);
    ``None`` for a value cleaning might change."""

    def __init__(self):
        self.texts, self.emails = {}, {}

    def text(self, value):
        spelled = self.texts.get(value)
        if spelled is None and value not in self.texts:
            plain = type(value) is str and "<" not in value  # PARAM_TEXT only strips tags
            spelled = self.texts[value] = php_escapes(encode_basestring_ascii(value)) if plain else None
        return spelled

    def email(self, value):
        spelled = self.emails.get(value)
        if spelled is None and value not in self.emails:
            valid = type(value) is str and (value == "" or (EMAIL_PATTERN.fullmatch(value) and ">" not in value))
            spelled = self.emails[value] = php_escapes(encode_basestring_ascii(value)) if valid else None
        return spelled


def encode_page(rows, fields, timezone, render):
    """The JSON body of ``rows`` (mappings with the reporting columns) showing ``fields``.

    ``render`` is the function's reference renderer (items → cleaned, encoded body); it writes the
    rows the direct path does not vouch for.
    """
    template, texts, percentages = _template(tuple(fields)), _Texts(), {}
    items = []
    for row in rows:
        userid, courseid = row["userid"], row["courseid"]
        completed, started = row["timecompleted"] or 0, row["timestarted"] or 0
        percentage = row["percentage"]
        spelled = percentages.get(percentage)
        if spelled is None:
            spelled = percentages[percentage] = php_json_encode(percentage_value(percentage))
        values = (
            userid, texts.text(row["firstname"]), texts.text(row["lastname"]), texts.email(row["email"]), courseid,
            texts.text(row["coursename"]), f'"{plugin_date(completed, timezone)}"', completed,
            f'"{plugin_date(started, timezone)}"', started, spelled, texts.text(row["status"]),
        )  # fmt: skip
        if (
            None not in values
            and type(userid) is int and type(courseid) is int and type(completed) is int and type(started) is int
        ):  # fmt: skip
            items.append(template.format(*values))
        else:
            items.append(render([api_item(row, fields, timezone)])[1:-1])  # the one item of a one-item list
    return "[" + ",".join(items) + "]"
