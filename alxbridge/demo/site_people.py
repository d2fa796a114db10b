"""The demo site's people: users, company memberships, enrolments, activity and course completions.

People are generated one at a time with everything that belongs to them, so memory stays flat however
many users are asked for; course completions are written in batches in the order Moodle would write them.
"""

import hashlib

from . import catalog
from .credentials import admin_password, moodle_bcrypt, placeholder_hash
from .site_model import COMPLETION_BATCH, DAY, SITE_AGE, Person, make_username


class PeopleRows:
    """Part of :class:`~alxbridge.demo.site.SiteGenerator`: uses its ``rng``, ``now``, ``spec``, ``new_id``,
    ``days_ago``
    and the records earlier parts filled in (``companies``, ``courses``, ``owners``, ``managers``)."""

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
