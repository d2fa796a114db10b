"""Reading one submitted value: whole numbers in a stated range, on/off switches, choices.

Forms arrive as ``{name: [values…]}`` (every value a name was posted with, in order). A checkbox is
posted after a hidden ``0`` of the same name, so the last value is the box's state, and a name that
is absent altogether (an input the page disabled) means "keep what is stored".
"""

import re
from dataclasses import dataclass

_WHOLE_NUMBER = re.compile(r"[+-]?\d{1,9}")


class InvalidValue(ValueError):
    """A submitted value the form refuses; the message names the field and what it accepts."""


def submitted(form, name):
    """The last value posted under ``name`` (stripped), or ``None`` when the name was not posted."""
    values = form.get(name) or ()
    return values[-1].strip() if values else None


def parse_submitted(form, parsers):
    """``(values, errors)`` for ``[(name, parse), …]``; names that were not posted are left out (stored values stay)."""
    values, errors = {}, []
    for name, parse in parsers:
        text = submitted(form, name)
        if text is None:
            continue
        try:
            values[name] = parse(text)
        except InvalidValue as error:
            errors.append(str(error))
    return values, errors


@dataclass(frozen=True)
class WholeNumber:
    """A whole-number input accepting ``low``…``high``; ``why`` explains a bound stricter than the plugin's."""

    name: str
    label: str
    low: int
    high: int
    why: str = ""

    @property
    def allowed(self):
        return f"a whole number from {self.low} to {self.high}{self.why}"

    def parse(self, text):
        if not _WHOLE_NUMBER.fullmatch(text or ""):
            raise InvalidValue(f"{self.label}: enter {self.allowed}.")
        number = int(text)
        if not self.low <= number <= self.high:
            raise InvalidValue(f"{self.label}: {number} is out of range; enter {self.allowed}.")
        return number


def parse_switch(text, label):
    """A checkbox (``1``) or its hidden twin (``0``)."""
    if text not in ("0", "1"):
        raise InvalidValue(f"{label}: expected on (1) or off (0).")
    return int(text)


def parse_choice(text, label, choices):
    """One of ``choices`` (a mapping of submitted value to what the admin saw)."""
    if text not in choices:
        listed = ", ".join(f"{value} ({shown})" for value, shown in choices.items())
        raise InvalidValue(f"{label}: choose one of {listed}.")
    return text


@dataclass(frozen=True)
class FormState:
    """A form's inputs as text: the current values, or what a refused submission sent instead."""

    values: dict

    @classmethod
    def of(cls, current, form=None):
        shown = dict(current)
        for name in current:
            text = submitted(form or {}, name)
            if text is not None:
                shown[name] = text
        return cls(shown)

    def checked(self, name):
        return self.values.get(name) == "1"

    def text(self, name):
        return self.values.get(name, "")


@dataclass(frozen=True)
class Change:
    """One saved change in the admin's words, for the message after saving."""

    label: str
    before: str
    after: str

    def __str__(self):
        return f"{self.label}: {self.before} → {self.after}"
