"""The random Moodle changes the state-machine tests make, as Moodle makes them (``SiteBuilder``).

A machine using these rules has ``site``, ``company``, ``other_company``, ``users`` and ``courses``
(``USERS`` and ``COURSES`` of them), ``enrolments`` ({(user index, course index): user_enrolments id})
and ``moved`` (user indexes now in the other company); it adds its own enrolment, course and check rules.
"""

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from .sitebuilder import DAY

USERS, COURSES, MODULES = 3, 2, (1, 1, 0)  # per example; the last module tracks no completion
users = st.integers(0, USERS - 1)
courses = st.integers(0, COURSES - 1)


class MoodleChanges(RuleBasedStateMachine):
    def _enrolled(self, data):
        return data.draw(st.sampled_from(sorted(self.enrolments)))

    @precondition(lambda self: self.enrolments)
    @rule(data=st.data())
    def unenrol(self, data):
        self.site.unenrol(self.enrolments.pop(self._enrolled(data)))

    @precondition(lambda self: self.enrolments)
    @rule(data=st.data(), status=st.sampled_from([0, 1]))
    def suspend_or_resume_enrolment(self, data, status):
        self.site.update_enrolment(self.enrolments[self._enrolled(data)], status=status)

    @rule(user=users, course=courses, module=st.integers(0, len(MODULES) - 1), state=st.sampled_from([0, 1, 2, 3]))
    def complete_module(self, user, course, module, state):
        self.site.complete_module(self.users[user], self.courses[course].modules[module], state=state)

    @rule(user=users, course=courses, days_ago=st.integers(0, 30))
    def back_dated_course_completion(self, user, course, days_ago):
        self.site.course_completion(
            self.users[user], self.courses[course], timecompleted=self.site.now - days_ago * DAY
        )

    @rule(user=users, suspended=st.sampled_from([0, 1]), lastname=st.sampled_from(["Tester", "Renamed"]))
    def edit_user(self, user, suspended, lastname):
        self.site.update_user(self.users[user], suspended=suspended, lastname=lastname)

    @rule(user=users)
    def move_to_the_other_company_or_back(self, user):
        source, target = (
            (self.other_company, self.company) if user in self.moved else (self.company, self.other_company)
        )
        self.site.remove_from_company(self.users[user], source)
        self.site.add_to_company(self.users[user], target)
        self.moved ^= {user}
