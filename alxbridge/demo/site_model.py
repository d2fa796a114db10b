"""The demo site's description and the records it is made of: sizes, people, companies, courses.

:class:`DemoSpec` says what to build; :class:`Picker` hands out each kind of record once before
drawing at realistic rates, so even a small demo holds every edge case. The row writers
(:mod:`.site`) fill these records as they go.
"""

import bisect
import itertools
import unicodedata
from dataclasses import dataclass, field

from . import catalog
from .errors import DemoError

DAY = 86400
SITE_AGE = 400 * DAY
COMPLETION_BATCH = 500  # people whose course completions are written together (see write_completions)

# Course slots with a fixed role, so each case exists whatever the seed (the last slot has no company).
SHARED_SLOT, HIDDEN_SLOT, UNTRACKED_SLOT = 0, 1, 2
MIN_COURSES = 4
MIN_EXTRA_PEOPLE = 5


@dataclass(frozen=True)
class DemoSpec:
    """What to build. ``users`` counts the people besides the guest and admin accounts."""

    companies: int
    users: int
    courses: int
    seed: int
    now: int

    def check(self):
        """Raise :class:`DemoError` when the demo cannot hold its fixed edge cases at this size."""
        people = len(catalog.SPECIAL_PEOPLE) + self.companies + MIN_EXTRA_PEOPLE
        if not 1 <= self.companies <= 9999:
            raise DemoError(f"--companies must be between 1 and 9999, got {self.companies}")
        if self.users < people:
            raise DemoError(f"--users must be at least {people} for {self.companies} companies, got {self.users}")
        if self.courses < MIN_COURSES:
            raise DemoError(f"--courses must be at least {MIN_COURSES}, got {self.courses}")
        if self.now < SITE_AGE:
            raise DemoError(f"--now must be a Unix time after 1971, got {self.now}")
        return self


class Picker:
    """Weighted choice that returns every option once, in order, before drawing at random.

    A small demo must still contain one of each rare case (a failed activity, a suspended
    enrolment); a large one must show realistic proportions. This gives both.
    """

    def __init__(self, rng, weighted):
        self._rng = rng
        self._values = [value for value, _ in weighted]
        self._cumulative = list(itertools.accumulate(weight for _, weight in weighted))
        self._forced = 0

    def pick(self):
        if self._forced < len(self._values):
            self._forced += 1
            return self._values[self._forced - 1]
        point = self._rng.random() * self._cumulative[-1]
        return self._values[bisect.bisect_right(self._cumulative, point)]


@dataclass
class Company:
    id: int
    name: str
    shortname: str
    city: str
    country: str

    @property
    def domain(self):
        return f"{self.shortname.lower()}.example.com"


@dataclass
class Course:
    id: int
    slot: int
    context_id: int
    context_path: str
    timecreated: int
    enablecompletion: int
    self_open: bool
    companies: tuple
    enrol_ids: dict = field(default_factory=dict)  # manual / guest / self → enrol.id
    trackable: list = field(default_factory=list)  # (course_modules.id, completion, passgrade)


@dataclass
class Person:
    id: int
    firstname: str
    lastname: str
    companies: tuple  # company ids, first is the main one
    username: str = ""
    suspended: int = 0
    deleted: int = 0
    managertype: int = 0
    key: str = ""  # SPECIAL_PEOPLE key, or "manager"


def ascii_name(text):
    """``Ångström`` → ``angstrom``: what an admin would type in a username or mailbox."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def make_username(firstname, lastname, userid):
    """``zoe.angstrom17``; ``user17`` for names without Latin letters (李雷, Дмитрий)."""
    parts = [part for part in (ascii_name(firstname), ascii_name(lastname)) if part]
    return ".".join(parts) + str(userid) if parts else f"user{userid}"
