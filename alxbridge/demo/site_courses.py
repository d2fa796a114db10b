"""The demo site's companies and courses: IOMAD companies, course rows, contexts, enrolment methods, modules."""

from . import catalog
from .site_model import DAY, HIDDEN_SLOT, SHARED_SLOT, SITE_AGE, UNTRACKED_SLOT, Company, Course


class CourseRows:
    """Part of :class:`~alxbridge.demo.site.SiteGenerator`: uses its ``rng``, ``now``, ``spec``, ``new_id``,
    ``days_ago``
    and the records earlier parts filled in (``companies``, ``courses``, ``owners``, ``managers``)."""

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
