"""The demo IOMAD site as a stream of rows: a pure function of its size, seed and clock.

``SiteGenerator(spec).rows()`` yields ``(table name, row dict)`` pairs. Every row carries its own
``id`` (Moodle-like: user 1 guest, 2 admin, course 1 the site course, context 1 the system), so
rows refer to each other without reading ids back, and one spec always yields the same rows in the
same order. Nothing here touches a database: :mod:`alxbridge.demo.store` writes the stream.
Columns a row leaves out take their ``install.xml`` default (``role_assignments.component`` '',
``course_modules_completion.overrideby`` NULL, …): fewer values to send on the millions-row tables.

People are generated one at a time together with everything that belongs to them (company
memberships, enrolments, activity and course completions), so memory stays flat however many users
are asked for. Every edge case the bridge must survive is present even in a small demo: fixed
"special people" (:data:`catalog.SPECIAL_PEOPLE`), fixed course slots, and
:class:`~.site_model.Picker`, which hands out each kind of record once before drawing at realistic rates.

The rows come from three parts, one per module: settings and web services (:mod:`.site_services`),
companies and courses (:mod:`.site_courses`), people with their enrolments and completions
(:mod:`.site_people`); the records they share are in :mod:`.site_model`.
"""

import itertools
import random
from collections import defaultdict

from .site_courses import CourseRows
from .site_model import DAY, Picker
from .site_people import PeopleRows
from .site_services import SettingsAndServiceRows


class SiteGenerator(SettingsAndServiceRows, CourseRows, PeopleRows):
    """Rows of one demo site; call :meth:`rows` once."""

    def __init__(self, spec, credentials_key):
        self.spec = spec.check()
        self.credentials_key = credentials_key  # see .credentials: the secrets differ per install
        self.now = spec.now
        self.rng = random.Random(spec.seed)
        self._counters = defaultdict(lambda: itertools.count(1))
        self.companies = []
        self.courses = {}  # id → Course
        self.courses_of_company = defaultdict(list)
        self.owners = {}  # SPECIAL_PEOPLE key → user id, for the tokens
        self.managers = {}  # company id → the manager who owns its token
        self._completions, self._late_completions = [], []
        rng = self.rng
        self.user_status = Picker(rng, (("active", 93), ("suspended", 5), ("deleted", 2)))
        self.second_company = Picker(rng, ((True, 3), (False, 97)))
        self.enrolment_state = Picker(
            rng, (("active", 80), ("suspended", 5), ("future", 3), ("ended", 6), ("undated", 3), ("open", 3))
        )
        self.open_course_method = Picker(rng, (("self", 40), ("manual", 60)))
        self.module_completion = Picker(rng, ((2, 50), (1, 30), (0, 20)))
        self.outcome = Picker(
            rng, (("completed", 20), ("late", 6), ("pending", 4), ("started", 30), ("enrolled", 15), ("none", 25))
        )
        self.untracked_outcome = Picker(rng, (("enrolled", 40), ("none", 60)))
        self.manual_state = Picker(rng, ((1, 85), (0, 15)))
        self.graded_state = Picker(rng, ((2, 40), (3, 35), (1, 10), (0, 15)))
        self.graded_finished_state = Picker(rng, ((2, 80), (1, 20)))

    def new_id(self, table):
        return next(self._counters[table])

    def days_ago(self, low, high):
        """A second between ``high`` and ``low`` days before now."""
        return self.now - self.rng.randint(int(low * DAY), int(high * DAY))

    def rows(self):
        """Every row of the site, table by table and in id order within each table."""
        yield from self.settings()
        yield from self.company_rows()
        yield from self.course_rows()
        yield from self.people_rows()
        yield from self.service_rows()
