"""``alx demo``: the demo IOMAD site, checked with plain SQL on SQLite and MariaDB.

One small demo is built per backend through the command line; each test then asks the database
for one thing the demo promises (a suspended enrolment, a back-dated completion, a token of a
suspended user, …). Further tests cover determinism, ``--replace``, ``--if-missing`` and the
refusal to write into a database that holds a real Moodle site.
"""

import hashlib
import re
from dataclasses import dataclass

import bcrypt
import pytest
import sqlalchemy as sa

from alxbridge.demo.site import SiteGenerator
from alxbridge.demo.site_model import DemoSpec
from alxbridge.schema import build_schema

from .conftest import backend_of, make_app

P = "mdl_"
NOW = 1_767_225_600  # 2026-01-01 00:00 UTC
DAY = 86400
SIZE = ["--companies", "3", "--users", "120", "--courses", "10", "--seed", "7", "--now", str(NOW)]
DEMO = ["alx", "demo", *SIZE]
SCHEMA = build_schema(P)
COMPARED_TABLES = [t.name for t in (*SCHEMA.moodle_core, *SCHEMA.iomad)]
KEY = "a-credentials-key"


@dataclass
class Demo:
    url: str
    output: str
    engine: sa.Engine

    def rows(self, sql, **params):
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql.format(p=P)), params).all()

    def value(self, sql, **params):
        return self.rows(sql, **params)[0][0]


def invoke(url, *args, **settings):
    app = make_app(url, **settings)
    try:
        return app.test_cli_runner().invoke(args=list(args))
    finally:
        app.extensions["alx_database"].engine.dispose()


def printed_tokens(output):
    """``[(company shortname, username, token)]`` from the command's token table."""
    return re.findall(r"^ +(\S+) +(\S+) +([0-9a-f]{32})$", output, re.MULTILINE)


def printed_password(output):
    return re.search(r"^Site admin: username admin +password (\S+)$", output, re.MULTILINE).group(1)


def table_digest(engine, names=COMPARED_TABLES):
    """``{table: sha256 of its rows in id order}``: equal digests mean equal contents."""
    digests = {}
    with engine.connect() as connection:
        for name in names:
            rows = connection.execute(sa.text(f"SELECT * FROM {name} ORDER BY id")).all()
            digests[name] = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
    return digests


@pytest.fixture(scope="module")
def demo(database_url):
    result = invoke(database_url, *DEMO)
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(database_url)
    yield Demo(database_url, result.output, engine)
    engine.dispose()


# -- site basics -------------------------------------------------------------------------------


def test_all_tables_are_created_and_the_plugin_tables_left_empty(demo):
    present = set(sa.inspect(demo.engine).get_table_names())
    assert {t.name for t in SCHEMA.metadata.sorted_tables} <= present
    for table in SCHEMA.owned:
        assert demo.value(f"SELECT COUNT(*) FROM {table.name}") == 0, table.name


def test_site_config_matches_a_real_site_and_carries_the_marker(demo):
    config = dict(demo.rows("SELECT name, value FROM {p}config"))
    assert config == {
        "enablewebservices": "1",
        "webserviceprotocols": "rest",
        "siteadmins": "2",
        "timezone": "Asia/Kolkata",
        "forcetimezone": "99",
        "version": "2022112810",
        "release": "4.1.10 (Build: 20240422)",
        "debug": "0",
        "debugdisplay": "0",
        "maintenance_enabled": "0",
        "siteguest": "1",
        "mnet_localhost_id": "1",
        "defaultuserroleid": "7",
        "alxbridge_demo_seed": "7",
    }


def test_plugin_settings_are_its_install_defaults(demo):
    settings = dict(demo.rows("SELECT name, value FROM {p}config_plugins WHERE plugin = 'local_alx_report_api'"))
    assert settings == {
        "max_records": "1000",
        "rate_limit": "100",
        "allow_get_method": "1",
        "enable_alerting": "1",
        "enable_email_alerts": "1",
        "alert_threshold": "medium",
        "alert_emails": "",
        "alert_cooldown": "60",
        "auto_sync_hours": "1",
        "max_sync_time": "300",
        "log_retention_days": "90",
        "high_api_usage_threshold": "200",
        "health_score_threshold": "70",
        "db_response_time_threshold": "200",
        "version": "2024100801",
    }


def test_the_standard_log_store_is_enabled_as_on_a_fresh_moodle(demo):
    """The sync tick follows ``logstore_standard_log`` only when Moodle logs to it (``tool_log | enabled_stores``)."""
    stores = demo.value("SELECT value FROM {p}config_plugins WHERE plugin = 'tool_log' AND name = 'enabled_stores'")
    assert stores == "logstore_standard"
    assert demo.value("SELECT COUNT(*) FROM {p}logstore_standard_log") == 0


def test_moodle_ids_guest_admin_site_course_and_system_context(demo):
    assert demo.rows("SELECT id, username FROM {p}user WHERE id IN (1, 2) ORDER BY id") == [(1, "guest"), (2, "admin")]
    assert demo.rows("SELECT id, format, category FROM {p}course WHERE id = 1") == [(1, "site", 0)]
    assert demo.rows("SELECT contextlevel, instanceid, path, depth FROM {p}context WHERE id = 1") == [(10, 0, "/1", 1)]


def test_contexts_form_a_tree_with_one_per_course_and_per_live_user(demo):
    contexts = demo.rows("SELECT id, contextlevel, instanceid, path, depth FROM {p}context")
    paths = {path for _, _, _, path, _ in contexts}
    for context_id, _, _, path, depth in contexts:
        assert path.endswith(f"/{context_id}") and path.count("/") == depth
        assert depth == 1 or path.rsplit("/", 1)[0] in paths  # the parent exists
    courses = {i for _, level, i, _, _ in contexts if level == 50}
    users = {i for _, level, i, _, _ in contexts if level == 30}
    assert courses == {r[0] for r in demo.rows("SELECT id FROM {p}course")}
    assert users == {r[0] for r in demo.rows("SELECT id FROM {p}user WHERE deleted = 0")}
    assert all(depth == 3 for _, level, i, _, depth in contexts if level == 50 and i != 1)


def test_roles_and_the_rest_capability_of_authenticated_users(demo):
    roles = dict(demo.rows("SELECT id, shortname FROM {p}role WHERE id IN (5, 7)"))
    assert roles == {5: "student", 7: "user"}
    assert demo.value("SELECT archetype FROM {p}role WHERE id = 7") == "user"
    capabilities = demo.rows("SELECT roleid, contextid, capability, permission FROM {p}role_capabilities")
    assert (7, 1, "webservice/rest:use", 1) in capabilities


# -- companies and people ----------------------------------------------------------------------


def test_companies_each_with_users(demo):
    assert demo.value("SELECT COUNT(*) FROM {p}company") == 3
    members = demo.rows(
        "SELECT c.shortname, COUNT(cu.id) FROM {p}company c LEFT JOIN {p}company_users cu ON cu.companyid = c.id "
        "GROUP BY c.shortname"
    )
    assert len(members) == 3 and all(count >= 5 for _, count in members)


def test_some_users_belong_to_two_companies(demo):
    assert demo.rows("SELECT userid FROM {p}company_users GROUP BY userid HAVING COUNT(DISTINCT companyid) >= 2"), (
        "IOMAD allows several company_users rows per user"
    )


def test_every_company_has_a_manager(demo):
    managed = demo.rows("SELECT DISTINCT companyid FROM {p}company_users WHERE managertype = 1 ORDER BY companyid")
    assert managed == [(1,), (2,), (3,)]


def test_suspended_users_exist(demo):
    suspended = demo.value("SELECT COUNT(*) FROM {p}user WHERE suspended = 1 AND deleted = 0")
    assert 1 <= suspended < 20


def test_deleted_users_look_as_moodle_leaves_them(demo):
    deleted = demo.rows("SELECT id, username, email, idnumber FROM {p}user WHERE deleted = 1")
    assert deleted
    for userid, username, email, idnumber in deleted:
        assert re.fullmatch(r"[^@\s]+@[a-z0-9.]+\.\d{9,10}", username), username  # email.timestamp
        assert re.fullmatch(r"[0-9a-f]{32}", email) and idnumber == ""  # md5 of the old username
        assert not demo.rows("SELECT id FROM {p}context WHERE contextlevel = 30 AND instanceid = :u", u=userid)


def test_unicode_emoji_and_html_names_survive(demo):
    names = set(demo.rows("SELECT firstname, lastname FROM {p}user"))
    assert {
        ("Zoë", "Ångström"),
        ("雷", "李"),
        ("Ølaf", "Ødegård"),
        ("<b>Bold</b>", "O'Brien"),
        ("<script>alert(1)</script>", "Tester"),
        ("Ana", "Lima 🎓"),
    } <= names


def test_one_user_belongs_to_no_company(demo):
    loners = demo.rows(
        "SELECT u.username FROM {p}user u WHERE u.id > 2 AND u.deleted = 0 "
        "AND NOT EXISTS (SELECT 1 FROM {p}company_users cu WHERE cu.userid = u.id)"
    )
    assert loners == [("loner",)]


# -- courses and enrolments --------------------------------------------------------------------


def test_courses_some_hidden_and_mostly_tracking_completion(demo):
    courses = demo.rows("SELECT visible, enablecompletion FROM {p}course WHERE id > 1")
    assert len(courses) == 10
    assert any(visible == 0 for visible, _ in courses) and any(visible == 1 for visible, _ in courses)
    assert sum(enabled for _, enabled in courses) > len(courses) / 2


def test_courses_shared_by_two_companies_and_courses_in_none(demo):
    shared = demo.rows("SELECT courseid FROM {p}company_course GROUP BY courseid HAVING COUNT(DISTINCT companyid) = 2")
    assert shared
    orphans = demo.rows(
        "SELECT id FROM {p}course c WHERE id > 1 "
        "AND NOT EXISTS (SELECT 1 FROM {p}company_course cc WHERE cc.courseid = c.id)"
    )
    assert orphans


def test_each_course_has_manual_guest_and_self_enrolment(demo):
    methods = demo.rows("SELECT courseid, enrol, status FROM {p}enrol ORDER BY courseid, sortorder")
    by_course = {}
    for courseid, enrol, status in methods:
        by_course.setdefault(courseid, []).append((enrol, status))
    assert len(by_course) == 10 and 1 not in by_course
    self_statuses = set()
    for instances in by_course.values():
        assert [enrol for enrol, _ in instances] == ["manual", "guest", "self"]
        assert instances[0][1] == 0 and instances[1][1] == 1
        self_statuses.add(instances[2][1])
    assert self_statuses == {0, 1}  # self enrolment open on some courses, closed on others


def test_user_enrolments_cover_every_state(demo):
    kinds = demo.rows(
        "SELECT "
        " SUM(CASE WHEN status = 0 AND timestart > 0 AND timestart <= :now AND timeend = 0 THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN status = 1 THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN timestart > :now THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN timeend > 0 AND timeend < :now THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN timestart = 0 AND timeend = 0 THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN timeend = 2147483647 THEN 1 ELSE 0 END) "
        "FROM {p}user_enrolments",
        now=NOW,
    )[0]
    active, suspended, future, ended, undated, column_default = kinds
    assert active > suspended + future + ended + undated + column_default
    assert min(suspended, future, ended, undated, column_default) >= 1, kinds


def test_some_users_enrolled_themselves(demo):
    assert demo.rows(
        "SELECT ue.id FROM {p}user_enrolments ue JOIN {p}enrol e ON e.id = ue.enrolid "
        "WHERE e.enrol = 'self' AND ue.modifierid = ue.userid"
    )


def test_some_users_are_enrolled_in_several_courses(demo):
    assert demo.rows(
        "SELECT ue.userid FROM {p}user_enrolments ue JOIN {p}enrol e ON e.id = ue.enrolid "
        "GROUP BY ue.userid HAVING COUNT(DISTINCT e.courseid) >= 3"
    )


def test_enrolments_use_no_guest_instance_and_existing_users(demo):
    assert not demo.rows(
        "SELECT ue.id FROM {p}user_enrolments ue JOIN {p}enrol e ON e.id = ue.enrolid WHERE e.enrol = 'guest'"
    )
    assert not demo.rows(
        "SELECT ue.id FROM {p}user_enrolments ue LEFT JOIN {p}user u ON u.id = ue.userid WHERE u.id IS NULL"
    )


# -- activities and completion -----------------------------------------------------------------


def test_course_modules_mix_completion_modes_and_deletions(demo):
    assert {r[0] for r in demo.rows("SELECT DISTINCT completion FROM {p}course_modules")} == {0, 1, 2}
    assert demo.rows("SELECT id FROM {p}course_modules WHERE deletioninprogress = 1")
    per_course = demo.rows("SELECT course, COUNT(*) FROM {p}course_modules GROUP BY course")
    assert len(per_course) == 10 and all(count >= 4 for _, count in per_course)


def test_one_course_has_no_trackable_module(demo):
    assert demo.rows("SELECT course FROM {p}course_modules GROUP BY course HAVING MAX(completion) = 0"), (
        "a course whose activities all have completion 0"
    )


def test_module_completion_states_zero_to_three(demo):
    states = {r[0] for r in demo.rows("SELECT DISTINCT completionstate FROM {p}course_modules_completion")}
    assert states == {0, 1, 2, 3}
    assert not demo.rows(
        "SELECT cmc.id FROM {p}course_modules_completion cmc "
        "JOIN {p}course_modules cm ON cm.id = cmc.coursemoduleid WHERE cm.completion = 0"
    ), "only trackable activities have completion rows"


def test_course_completions_completed_started_and_pending(demo):
    completed = demo.value("SELECT COUNT(*) FROM {p}course_completions WHERE timecompleted IS NOT NULL")
    started = demo.value(
        "SELECT COUNT(*) FROM {p}course_completions WHERE timestarted > 0 AND timecompleted IS NULL AND reaggregate = 0"
    )
    pending = demo.value("SELECT COUNT(*) FROM {p}course_completions WHERE reaggregate > 0 AND timecompleted IS NULL")
    assert completed >= 3 and started >= 3 and pending >= 1
    assert not demo.rows(
        "SELECT id FROM {p}course_completions WHERE timecompleted < timestarted OR timecompleted > :now", now=NOW
    )


def test_back_dated_completions_were_written_after_newer_ones(demo):
    """Moodle's completion cron writes a completion late, stamped with when the criteria were met."""
    pairs = demo.rows(
        "SELECT a.id, b.id FROM {p}course_completions a JOIN {p}course_completions b "
        "ON a.id > b.id AND a.timecompleted < b.timecompleted "
        "WHERE a.timecompleted < :day_ago",
        day_ago=NOW - DAY,
    )
    assert pairs


# -- web services ------------------------------------------------------------------------------


def test_external_functions(demo):
    assert demo.rows("SELECT name, classname, methodname, component FROM {p}external_functions ORDER BY name") == [
        ("core_webservice_get_site_info", "core_webservice_external", "get_site_info", "moodle"),
        (
            "local_alx_report_api_get_course_progress",
            "local_alx_report_api_external",
            "get_course_progress",
            "local_alx_report_api",
        ),
    ]


def test_external_services_and_their_functions(demo):
    services = {
        shortname: (name, enabled, restricted, component)
        for shortname, name, enabled, restricted, component in demo.rows(
            "SELECT shortname, name, enabled, restrictedusers, component FROM {p}external_services"
        )
    }
    assert services["moodle_mobile_app"] == ("Moodle mobile web service", 0, 0, "moodle")
    assert services["alx_report_api_custom"] == ("ALX Report API Custom Service", 1, 0, None)
    functions = demo.rows(
        "SELECT s.shortname, s.enabled, f.functionname FROM {p}external_services s "
        "JOIN {p}external_services_functions f ON f.externalserviceid = s.id"
    )
    assert ("alx_report_api_custom", 1, "local_alx_report_api_get_course_progress") in functions
    assert ("alx_report_api_custom", 1, "core_webservice_get_site_info") in functions
    disabled = [s for s, enabled, f in functions if not enabled and f == "local_alx_report_api_get_course_progress"]
    assert disabled and "moodle_mobile_app" not in disabled, "a disabled service offering the progress function"


TOKEN_SQL = (
    "SELECT t.token, t.tokentype, t.contextid, t.creatorid, t.validuntil, t.iprestriction, "
    "u.suspended, s.enabled, s.shortname, "
    "(SELECT COUNT(*) FROM {p}company_users cu WHERE cu.userid = u.id) AS companies "
    "FROM {p}external_tokens t JOIN {p}user u ON u.id = t.userid "
    "JOIN {p}external_services s ON s.id = t.externalserviceid"
)


def test_tokens_cover_every_failure_case(demo):
    tokens = demo.rows(TOKEN_SQL)
    assert all(
        re.fullmatch(r"[0-9a-f]{32}", t.token) and t.tokentype == 0 and t.contextid == 1 and t.creatorid == 2
        for t in tokens
    )
    alx = [t for t in tokens if t.shortname == "alx_report_api_custom"]
    assert any(t.validuntil and t.validuntil < NOW for t in alx), "expired"
    assert any(t.iprestriction == "10.99.0.0/16" for t in alx), "IP-limited"
    assert any(t.suspended == 1 for t in alx), "owned by a suspended user"
    assert any(t.companies == 0 and t.suspended == 0 for t in alx), "owned by a user without company"
    assert any(t.enabled == 0 and t.shortname != "moodle_mobile_app" for t in tokens), "for a disabled service"
    assert len({t.token for t in tokens}) == len(tokens)


def test_printed_company_tokens_work(demo):
    printed = printed_tokens(demo.output)
    assert [company for company, _, _ in printed] == ["BWL", "TCT", "EDU"]
    for company, username, token in printed:
        rows = demo.rows(
            "SELECT t.validuntil, t.iprestriction, u.username, u.suspended, u.deleted, s.enabled, s.shortname "
            "FROM {p}external_tokens t JOIN {p}user u ON u.id = t.userid "
            "JOIN {p}external_services s ON s.id = t.externalserviceid "
            "JOIN {p}company_users cu ON cu.userid = u.id JOIN {p}company c ON c.id = cu.companyid "
            "WHERE t.token = :token AND c.shortname = :company",
            token=token,
            company=company,
        )
        assert len(rows) == 1, (company, token)
        validuntil, iprestriction, owner, suspended, deleted, enabled, service = rows[0]
        assert validuntil in (0, None) or validuntil > NOW
        assert iprestriction is None and owner == username and (suspended, deleted) == (0, 0)
        assert (enabled, service) == (1, "alx_report_api_custom")


def test_printed_admin_password_verifies(demo):
    stored = demo.value("SELECT password FROM {p}user WHERE username = 'admin'")
    assert stored.startswith("$2y$10$")
    password = printed_password(demo.output)
    assert bcrypt.checkpw(password.encode(), stored.replace("$2y$", "$2b$", 1).encode())
    assert not bcrypt.checkpw(b"admin", stored.replace("$2y$", "$2b$", 1).encode())


# -- the command: determinism, replace, if-missing, refusal -----------------------------------


def test_same_seed_and_clock_build_the_same_site_and_replace_rebuilds_it(demo, new_database):
    with new_database(backend_of(demo.url)) as url:
        first = invoke(url, *DEMO)
        assert first.exit_code == 0, first.output
        engine = sa.create_engine(url)
        try:
            assert table_digest(engine) == table_digest(demo.engine)
            assert printed_tokens(first.output) == printed_tokens(demo.output)
            with engine.begin() as connection:
                connection.execute(sa.text(f"UPDATE {P}user SET firstname = 'Changed' WHERE id = 2"))
            again = invoke(url, *DEMO, "--replace")
            assert again.exit_code == 0, again.output
            assert table_digest(engine) == table_digest(demo.engine)
        finally:
            engine.dispose()


def test_another_install_gets_other_demo_credentials_from_the_same_seed(demo, new_database):
    with new_database(backend_of(demo.url)) as url:
        other = invoke(url, *DEMO, ALX_SECRET_KEY="another-install")
        assert other.exit_code == 0, other.output
        assert printed_password(other.output) != printed_password(demo.output)
        assert not {token for *_, token in printed_tokens(other.output)} & {t for *_, t in printed_tokens(demo.output)}


def test_another_seed_builds_another_site():
    def users(seed):
        spec = DemoSpec(3, 120, 10, seed, NOW)
        return [row for table, row in SiteGenerator(spec, KEY).rows() if table in ("user", "external_tokens")]

    assert users(7) == users(7)
    assert users(7) != users(8)


def test_if_missing_keeps_the_site_and_prints_its_logins(demo):
    with demo.engine.begin() as connection:
        connection.execute(sa.text(f"UPDATE {P}user SET lastaccess = 12345 WHERE id = 2"))
    before = table_digest(demo.engine)
    result = invoke(demo.url, *DEMO, "--if-missing")
    assert result.exit_code == 0, result.output
    assert "already" in result.output
    assert table_digest(demo.engine) == before
    assert printed_tokens(result.output) == printed_tokens(demo.output)
    assert printed_password(result.output) == printed_password(demo.output)


def test_an_existing_demo_needs_replace_or_if_missing(demo):
    before = table_digest(demo.engine, [f"{P}user"])
    result = invoke(demo.url, *DEMO)
    assert result.exit_code != 0
    assert result.output.count("\n") == 1 and result.output.startswith("Error: ")
    assert "--replace" in result.output and "--if-missing" in result.output
    assert table_digest(demo.engine, [f"{P}user"]) == before


@pytest.mark.parametrize(
    ("prefix", "flag"),
    [(P, None), (P, "--replace"), (P, "--if-missing"), ("m_", None)],
    ids=["moodle", "moodle-replace", "moodle-if-missing", "moodle-other-prefix"],
)
def test_refuses_to_touch_a_real_moodle_database(database_url, new_database, prefix, flag):
    """A config table with a row and no demo marker (or a site under another prefix) is a real site."""
    real_tables = {f"{prefix}config", f"{prefix}config_plugins"}
    with new_database(backend_of(database_url)) as url:
        engine = sa.create_engine(url)
        try:
            with engine.begin() as connection:
                for table in sorted(real_tables):
                    columns = "id INTEGER PRIMARY KEY, name VARCHAR(255), value TEXT"
                    connection.execute(sa.text(f"CREATE TABLE {table} ({columns})"))
                    connection.execute(sa.text(f"INSERT INTO {table} VALUES (1, 'version', '2022112810')"))
            result = invoke(url, *DEMO, *([flag] if flag else []))
            assert result.exit_code != 0
            assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
            assert "not a demo site; refusing to write demo data into it" in result.output
            assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
            assert set(sa.inspect(engine).get_table_names()) == real_tables
            with engine.connect() as connection:
                for table in real_tables:
                    assert connection.execute(sa.text(f"SELECT * FROM {table}")).all() == [(1, "version", "2022112810")]
        finally:
            engine.dispose()


def test_too_small_a_demo_is_refused_in_one_line(tmp_path):
    result = invoke(f"sqlite:///{tmp_path}/small.db", "alx", "demo", "--users", "5")
    assert result.exit_code != 0
    assert result.output.startswith("Error: --users must be at least") and result.output.count("\n") == 1
