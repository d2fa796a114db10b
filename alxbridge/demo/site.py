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
"special people" (:data:`catalog.SPECIAL_PEOPLE`), fixed course slots, and :class:`Picker`, which
hands out each kind of record once before drawing at realistic rates.
"""

import bisect
import hashlib
import itertools
import random
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field

from . import catalog
from .credentials import admin_password, moodle_bcrypt, placeholder_hash, private_token, token
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


class SiteGenerator:
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

    # -- settings -----------------------------------------------------------------------------

    def settings(self):
        """Site config (with the demo marker), the plugin's defaults, the log store, roles and the REST capability."""
        for name, value in (*catalog.SITE_CONFIG, (catalog.MARKER, str(self.spec.seed))):
            yield "config", {"id": self.new_id("config"), "name": name, "value": value}
        plugin_config = [(catalog.PLUGIN, name, value) for name, value in catalog.PLUGIN_CONFIG]
        for plugin, name, value in (*plugin_config, *catalog.OTHER_PLUGIN_CONFIG):
            row = {"id": self.new_id("config_plugins"), "plugin": plugin, "name": name, "value": value}
            yield "config_plugins", row
        for role_id, name, shortname, archetype in catalog.ROLES:
            yield (
                "role",
                {
                    "id": role_id,
                    "name": name,
                    "shortname": shortname,
                    "description": "",
                    "sortorder": role_id,
                    "archetype": archetype,
                },
            )
        yield (
            "role_capabilities",
            {
                "id": self.new_id("role_capabilities"),
                "contextid": 1,
                "roleid": catalog.USER_ROLE,
                "capability": "webservice/rest:use",
                "permission": 1,
                "timemodified": self.now - SITE_AGE,
                "modifierid": 2,
            },
        )

    # -- companies and courses ----------------------------------------------------------------

    def company_rows(self):
        for number in range(1, self.spec.companies + 1):
            if number <= len(catalog.COMPANIES):
                name, shortname, city, country = catalog.COMPANIES[number - 1]
            else:
                city, country = catalog.EXTRA_COMPANY_CITIES[number % len(catalog.EXTRA_COMPANY_CITIES)]
                name, shortname = f"Demo Company {number}", f"DC{number}"
            company = Company(self.new_id("company"), name, shortname, city, country)
            self.companies.append(company)
            yield (
                "company",
                {
                    "id": company.id,
                    "name": name,
                    "shortname": shortname,
                    "code": shortname,
                    "city": city,
                    "country": country,
                    "theme": "iomadboost",
                    "hostname": None,
                    "maxusers": 0,
                    "suspended": 0,
                },
            )

    def course_rows(self):
        """System, site course and category contexts, then each course with its enrolment methods and activities."""
        created = self.now - SITE_AGE
        yield "context", self.context_row(10, 0, "")
        site_course = self.new_id("course")  # 1, Moodle's SITEID
        site_context = self.context_row(50, site_course, "/1")
        yield (
            "course",
            self.course_row(
                site_course,
                0,
                "ALX Demo Academy",
                "ALX Demo",
                "site",
                visible=1,
                enablecompletion=0,
                timecreated=created,
            ),
        )
        yield "context", site_context
        self.new_id("course_sections")
        category_context = self.context_row(40, 1, "/1")
        yield "context", category_context
        for slot in range(self.spec.courses):
            yield from self.one_course(slot, category_context["path"])

    def context_row(self, level, instance, parent_path):
        context_id = self.new_id("context")
        path = f"{parent_path}/{context_id}"
        return {
            "id": context_id,
            "contextlevel": level,
            "instanceid": instance,
            "path": path,
            "depth": path.count("/"),
        }

    def course_row(
        self, course_id, slot, fullname, shortname, course_format, *, visible, enablecompletion, timecreated
    ):
        return {
            "id": course_id,
            "category": 0 if course_format == "site" else 1,
            "sortorder": 1 if course_format == "site" else 10001 + slot,  # as Moodle numbers them
            "fullname": fullname,
            "shortname": shortname,
            "idnumber": "",
            "summary": "",
            "summaryformat": 1,
            "format": course_format,
            "startdate": timecreated + 7 * DAY if course_format != "site" else 0,
            "enddate": 0,
            "visible": visible,
            "visibleold": visible,
            "timecreated": timecreated,
            "timemodified": timecreated,
            "enablecompletion": enablecompletion,
            "cacherev": timecreated,
            "showcompletionconditions": 1 if enablecompletion else None,
        }

    def one_course(self, slot, category_path):
        rng = self.rng
        course_id = self.new_id("course")
        fullname, stem = catalog.COURSES[slot % len(catalog.COURSES)]
        edition = slot // len(catalog.COURSES)
        if edition:
            fullname = f"{fullname} ({edition + 1})"
        visible = 0 if slot == HIDDEN_SLOT or (slot > UNTRACKED_SLOT and rng.random() < 0.1) else 1
        enablecompletion = 0 if slot > UNTRACKED_SLOT and rng.random() < 0.1 else 1
        self_open = slot == SHARED_SLOT or (slot != HIDDEN_SLOT and rng.random() < 0.4)
        course = Course(
            course_id, slot, 0, "", self.days_ago(200, 380), enablecompletion, self_open, self.course_companies(slot)
        )
        yield (
            "course",
            self.course_row(
                course_id,
                slot,
                fullname,
                f"{stem}-{course_id}",
                "topics",
                visible=visible,
                enablecompletion=enablecompletion,
                timecreated=course.timecreated,
            ),
        )
        context = self.context_row(50, course_id, category_path)
        course.context_id, course.context_path = context["id"], context["path"]
        yield "context", context
        for sortorder, method in enumerate(("manual", "guest", "self")):
            course.enrol_ids[method] = self.new_id("enrol")
            yield "enrol", self.enrol_row(course, method, sortorder)
        yield from self.course_modules(course)
        for company_id in course.companies:
            self.courses_of_company[company_id].append(course)
            yield (
                "company_course",
                {
                    "id": self.new_id("company_course"),
                    "companyid": company_id,
                    "courseid": course_id,
                    "departmentid": company_id,  # IOMAD's top department of company n has id n here
                },
            )
        self.courses[course_id] = course

    def course_companies(self, slot):
        """Mostly one company; some courses shared by two, some in none (the last slot always)."""
        count = len(self.companies)
        if slot == self.spec.courses - 1:
            return ()
        if slot == SHARED_SLOT and count >= 2:
            return (1, 2)
        draw = self.rng.random()
        if slot > UNTRACKED_SLOT and count >= 2 and draw < 0.15:
            return tuple(sorted(self.rng.sample(range(1, count + 1), 2)))
        if slot > UNTRACKED_SLOT and draw < 0.22:
            return ()
        return (slot % count + 1,)

    def enrol_row(self, course, method, sortorder):
        """Manual enabled, guest disabled, self enabled on some courses (Moodle's default trio)."""
        is_self = method == "self"
        return {
            "id": course.enrol_ids[method],
            "enrol": method,
            "courseid": course.id,
            "sortorder": sortorder,
            "status": {"manual": 0, "guest": 1}.get(method, 0 if course.self_open else 1),
            "name": None,
            "enrolperiod": 0,
            "expirythreshold": 86400 if method == "manual" else 0,
            "roleid": 0 if method == "guest" else catalog.STUDENT_ROLE,
            **{f"customint{i}": value if is_self else None for i, value in enumerate((0, 0, 0, 1, 0, 1), 1)},
            "timecreated": course.timecreated,
            "timemodified": course.timecreated,
        }

    def course_modules(self, course):
        """An announcements forum plus 3–7 activities with mixed completion tracking.

        The untracked slot gets no trackable activity; the shared slot's last activity is being deleted.
        """
        rng = self.rng
        activities = [("forum", 0)]
        for _ in range(rng.randint(3, 7)):
            completion = 0 if course.slot == UNTRACKED_SLOT else self.module_completion.pick()
            activities.append((rng.choice(catalog.ACTIVITY_TYPES), completion))
        if course.slot != UNTRACKED_SLOT and all(completion == 0 for _, completion in activities):
            activities[-1] = (activities[-1][0], 2)
        first_section = self.new_id("course_sections")
        for _ in range(3):
            self.new_id("course_sections")
        for position, (kind, completion) in enumerate(activities):
            cm_id = self.new_id("course_modules")
            passgrade = int(completion == 2 and kind in ("quiz", "assign", "scorm", "h5pactivity", "lesson"))
            deleting = int((course.slot == SHARED_SLOT and position == len(activities) - 1) or rng.random() < 0.03)
            if completion:
                course.trackable.append((cm_id, completion, passgrade))
            added = course.timecreated + rng.randint(0, 5 * DAY)
            yield (
                "course_modules",
                {
                    "id": cm_id,
                    "course": course.id,
                    "module": catalog.MODULES[kind],
                    "instance": self.new_id(f"instance:{kind}"),
                    "section": first_section + (0 if kind == "forum" else 1 + position % 3),
                    "idnumber": "",
                    "added": added,
                    "visible": 1,
                    "visibleoncoursepage": 1,
                    "visibleold": 1,
                    "completion": completion,
                    "completionview": int(completion == 2 and not passgrade),
                    "completionexpected": 0,
                    "completionpassgrade": passgrade,
                    "deletioninprogress": deleting,
                    "downloadcontent": 1,
                },
            )
            yield "context", self.context_row(70, cm_id, course.context_path)

    # -- people -------------------------------------------------------------------------------

    def people_rows(self):
        """Guest and admin, then every person with their memberships, enrolments and completions."""
        created = self.now - SITE_AGE
        guest = Person(self.new_id("user"), "Guest user", " ", (), username="guest")
        yield from self.user_rows(guest, created, email="root@localhost", password=placeholder_hash(self.spec.seed, 1))
        admin = Person(self.new_id("user"), "Admin", "User", (), username="admin")
        password = moodle_bcrypt(admin_password(self.spec.seed, self.credentials_key), self.spec.seed)
        yield from self.user_rows(admin, created, email="admin@example.org", password=password)
        for number, person in enumerate(self.people(), 1):
            yield from self.person_rows(person)
            if number % COMPLETION_BATCH == 0:
                yield from self.write_completions()
        yield from self.write_completions()

    def people(self):
        """Special people first (ids from 3, the loner first), then a manager per company, then the rest."""
        company_ids = [c.id for c in self.companies]
        for key, firstname, lastname, company, suspended, deleted in catalog.SPECIAL_PEOPLE:
            companies = () if company is None else (company_ids[company % len(company_ids)],)
            yield Person(
                self.new_id("user"),
                firstname,
                lastname,
                companies,
                username=key,
                suspended=suspended,
                deleted=deleted,
                key=key,
            )
        for company in self.companies:
            firstname, lastname = self.random_name()
            yield Person(
                self.new_id("user"),
                firstname,
                lastname,
                (company.id,),
                username=f"manager.{company.shortname.lower()}",
                managertype=1,
                key="manager",
            )
        for _ in range(self.spec.users - len(catalog.SPECIAL_PEOPLE) - len(self.companies)):
            firstname, lastname = self.random_name()
            status = self.user_status.pick()
            companies = (self.rng.choice(company_ids),)
            if len(company_ids) > 1 and self.second_company.pick():
                companies += (self.rng.choice([c for c in company_ids if c != companies[0]]),)
            yield Person(
                self.new_id("user"),
                firstname,
                lastname,
                companies,
                suspended=int(status == "suspended"),
                deleted=int(status == "deleted"),
                managertype=int(self.rng.random() < 0.02),
            )

    def random_name(self):
        rng = self.rng
        if rng.random() < 0.05:
            return rng.choice(catalog.NATIVE_SCRIPT_NAMES)
        return rng.choice(catalog.FIRST_NAMES), rng.choice(catalog.LAST_NAMES)

    def person_rows(self, person):
        created = self.days_ago(300, 390) if person.key else self.days_ago(1, 365)
        if person.key:
            self.owners[person.key] = person.id
            if person.key == "manager":
                self.managers[person.companies[0]] = person.id
        if not person.username:
            person.username = make_username(person.firstname, person.lastname, person.id)
        company = self.companies[person.companies[0] - 1] if person.companies else None
        email = f"{person.username}@{company.domain if company else 'example.org'}"
        auth_sso = not person.key and self.rng.random() < 0.03
        password = "not cached" if auth_sso else placeholder_hash(self.spec.seed, person.id)
        yield from self.user_rows(
            person, created, email=email, password=password, company=company, auth="oauth2" if auth_sso else "manual"
        )
        for company_id in person.companies:
            yield (
                "company_users",
                {
                    "id": self.new_id("company_users"),
                    "companyid": company_id,
                    "userid": person.id,
                    "managertype": person.managertype,
                    "departmentid": company_id,
                    "suspended": person.suspended,
                },
            )
        for course in self.choose_courses(person):
            yield from self.enrolment(person, course, created)

    def user_rows(self, person, created, *, email, password, company=None, auth="manual"):
        """The user row and, unless deleted, the user context.

        A deleted user looks as Moodle's ``delete_user()`` leaves it: username ``email.time``,
        email the md5 of the old username, no context. Their enrolments and completions are kept
        (as on the reference site) so the bridge's ``deleted = 0`` filters are exercised.
        """
        rng, modified = self.rng, created
        username = person.username
        if rng.random() < 0.15 or person.id == 1:
            first = last = 0
        else:
            first = min(self.now, created + rng.randint(0, 3 * DAY))
            last = rng.randint(first, self.now)
        if person.deleted:
            modified = rng.randint(created, self.now)
            username = f"{email.lower()}.{modified}"
            email = hashlib.md5(person.username.encode("utf-8"), usedforsecurity=False).hexdigest()
        yield (
            "user",
            {
                "id": person.id,
                "auth": auth,
                "confirmed": 1,
                "policyagreed": 0,
                "deleted": person.deleted,
                "suspended": person.suspended,
                "mnethostid": 1,
                "username": username,
                "password": password,
                "idnumber": "",
                "firstname": person.firstname,
                "lastname": person.lastname,
                "email": email,
                "city": company.city if company else "",
                "country": company.country if company else "",
                "lang": "en",
                "timezone": "99",
                "firstaccess": first,
                "lastaccess": last,
                "lastlogin": first and last,
                "currentlogin": last,
                "lastip": f"192.0.2.{person.id % 250 + 1}" if last else "",
                "timecreated": created if person.id > 2 else 0,
                "timemodified": modified,
            },
        )
        if not person.deleted:
            yield "context", self.context_row(30, person.id, "/1")

    def choose_courses(self, person):
        """1–4 courses, mostly of the person's companies, sometimes one from elsewhere on the site."""
        rng = self.rng
        wanted = rng.choices((1, 2, 3, 4), weights=(30, 35, 20, 15))[0]
        pool = sorted({c.id for company_id in person.companies for c in self.courses_of_company[company_id]})
        chosen = rng.sample(pool, min(wanted, len(pool)))
        if len(chosen) < wanted or rng.random() < 0.1:
            outside = [course_id for course_id in self.courses if course_id not in chosen]
            if outside and len(chosen) < 4:
                chosen.append(rng.choice(outside))
        return [self.courses[course_id] for course_id in chosen]

    # -- enrolments and completion ------------------------------------------------------------

    def enrolment(self, person, course, user_created):
        """user_enrolments (one instance, rarely two), the student role, and the person's progress."""
        rng = self.rng
        earliest = max(user_created, course.timecreated)
        enrolled = rng.randint(earliest, max(earliest, self.now - DAY))
        state = self.enrolment_state.pick()
        status, timestart, timeend, modified = self.enrolment_times(state, enrolled)
        method = self.open_course_method.pick() if course.self_open else ("self" if rng.random() < 0.03 else "manual")
        methods = (method, "manual" if method == "self" else "self") if rng.random() < 0.01 else (method,)
        for number, how in enumerate(methods):
            yield (
                "user_enrolments",
                {
                    "id": self.new_id("user_enrolments"),
                    "status": status if number == 0 else 0,
                    "enrolid": course.enrol_ids[how],
                    "userid": person.id,
                    "timestart": timestart,
                    "timeend": timeend,
                    "modifierid": person.id if how == "self" else 2,
                    "timecreated": enrolled,
                    "timemodified": modified,
                },
            )
        yield (
            "role_assignments",
            {
                "id": self.new_id("role_assignments"),
                "roleid": catalog.STUDENT_ROLE,
                "contextid": course.context_id,
                "userid": person.id,
                "timemodified": enrolled,
                "modifierid": person.id if method == "self" else 2,
            },
        )
        if course.enablecompletion and state != "future":
            yield from self.completion(person, course, timestart or enrolled, timeend, enrolled)

    def enrolment_times(self, state, enrolled):
        """(status, timestart, timeend, timemodified) of an enrolment in ``state``."""
        rng, now = self.rng, self.now
        if state == "suspended":
            return 1, enrolled, 0, rng.randint(enrolled, now)
        if state == "future":
            return 0, now + rng.randint(DAY, 60 * DAY), 0, enrolled
        if state == "ended":
            timeend = rng.randint(enrolled + 1, now - 1)
            return 0, enrolled, timeend, enrolled
        if state == "undated":
            return 0, 0, 0, enrolled
        if state == "open":  # inserted without a timeend, so the column default stands
            return 0, enrolled, catalog.NEVER_ENDS, enrolled
        return 0, enrolled, 0, enrolled

    def completion(self, person, course, begin, timeend, enrolled):
        """Activity completions and the course completion row of one enrolment.

        ``late`` completions are what Moodle's completion cron writes when it catches up: the row
        is written after others (higher id, see :meth:`write_completions`) but carries the older
        time the criteria were met, which a "changed since the last sync" query misses.
        """
        rng, now = self.rng, self.now
        outcome = (self.outcome if course.trackable else self.untracked_outcome).pick()
        if outcome == "none":
            return
        end = now if timeend in (0, catalog.NEVER_ENDS) else timeend
        if outcome == "late":
            if min(end, now - 2 * DAY) > begin:
                end = min(end, now - 2 * DAY)
            else:
                outcome = "completed"
        finished = outcome in ("completed", "late", "pending")
        if finished:
            modules = course.trackable
        elif outcome == "started":
            modules = rng.sample(course.trackable, rng.randint(1, max(1, len(course.trackable) - 1)))
        else:
            modules = []
        times = sorted(rng.randint(begin, end) for _ in modules)
        for (cm_id, completion, passgrade), when in zip(modules, times, strict=True):
            if passgrade:
                state = (self.graded_finished_state if finished else self.graded_state).pick()
            else:
                state = 1 if finished or completion == 2 else self.manual_state.pick()
            yield (
                "course_modules_completion",
                {
                    "id": self.new_id("course_modules_completion"),
                    "coursemoduleid": cm_id,
                    "userid": person.id,
                    "completionstate": state,
                    "timemodified": when,
                },
            )
        row = {
            "userid": person.id,
            "course": course.id,
            "timeenrolled": enrolled,
            "timestarted": times[0] if times else 0,
            "timecompleted": times[-1] if outcome in ("completed", "late") else None,
            "reaggregate": times[-1] if outcome == "pending" else 0,
        }
        (self._late_completions if outcome == "late" else self._completions).append(row)

    def write_completions(self):
        """Course completions of the last batch of people, in the order Moodle would have written them.

        Rows written on time come in time order (ids grow with time, as on a live site); then come
        the ones the completion cron aggregated late, whose times are older than many before them.
        """
        self._completions.sort(
            key=lambda r: r["timecompleted"] or r["reaggregate"] or r["timestarted"] or r["timeenrolled"]
        )
        for row in (*self._completions, *self._late_completions):
            yield "course_completions", {"id": self.new_id("course_completions"), **row}
        self._completions.clear()
        self._late_completions.clear()

    # -- web services -------------------------------------------------------------------------

    def service_rows(self):
        """The plugin's function, its services and the tokens: one valid per company plus edge cases."""
        created = self.now - SITE_AGE
        for name, classname, methodname, component in catalog.EXTERNAL_FUNCTIONS:
            yield (
                "external_functions",
                {
                    "id": self.new_id("external_functions"),
                    "name": name,
                    "classname": classname,
                    "methodname": methodname,
                    "classpath": None,
                    "component": component,
                    "capabilities": "",
                    "services": None,
                },
            )
        service_ids = {}
        for key, name, shortname, enabled, component, functions in catalog.EXTERNAL_SERVICES:
            service_ids[key] = self.new_id("external_services")
            yield (
                "external_services",
                {
                    "id": service_ids[key],
                    "name": name,
                    "enabled": enabled,
                    "requiredcapability": None,
                    "restrictedusers": 0,
                    "component": component,
                    "timecreated": created,
                    "timemodified": created,
                    "shortname": shortname,
                    "downloadfiles": int(key == "mobile"),
                    "uploadfiles": int(key == "mobile"),
                },
            )
            for function in functions:
                yield (
                    "external_services_functions",
                    {
                        "id": self.new_id("external_services_functions"),
                        "externalserviceid": service_ids[key],
                        "functionname": function,
                    },
                )
        tokens = [(self.managers[c.id], "alx", {}) for c in self.companies]
        tokens += [
            (self.owners["expired"], "alx", {"validuntil": self.now - DAY}),
            (self.owners["iplimited"], "alx", {"iprestriction": catalog.IP_RESTRICTION}),
            (self.owners["suspended"], "alx", {}),
            (self.owners["loner"], "alx", {}),
            (self.owners["disabled"], "disabled", {}),
            (self.owners["other"], "other", {}),
        ]
        for userid, service, overrides in tokens:
            number = self.new_id("external_tokens")
            yield (
                "external_tokens",
                {
                    "id": number,
                    "token": token(self.credentials_key, self.spec.seed, number),
                    "privatetoken": private_token(self.credentials_key, self.spec.seed, number),
                    "tokentype": 0,
                    "userid": userid,
                    "externalserviceid": service_ids[service],
                    "sid": None,
                    "contextid": 1,
                    "creatorid": 2,
                    "iprestriction": None,
                    "validuntil": 0,
                    "timecreated": self.days_ago(30, 90),
                    "lastaccess": None,
                    **overrides,
                },
            )
