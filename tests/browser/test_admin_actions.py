"""Issue 22 in the browser, the admin actions: revoking a token (#9) and what a populate or sync changed (#8)."""

import sqlalchemy as sa

from .conftest import PREFIX, screenshot
from .test_admin_readings import number, refused_call


def active_first_members(app, companyid):
    """``{userid}`` a token may be issued to in ``companyid``, worked out row by row in Python."""
    database = app.extensions["alx_database"]
    tables = database.tables
    with database.connect() as connection:
        users = {row.id: row for row in connection.execute(sa.select(tables.user))}
        companies = {row.id: row for row in connection.execute(sa.select(tables.company))}
        memberships = connection.execute(sa.select(tables.company_users).order_by(tables.company_users.c.id)).all()
    first = {}
    for membership in memberships:
        if not membership.suspended and not companies[membership.companyid].suspended:
            first.setdefault(membership.userid, membership.companyid)
    return {
        userid for userid, company in first.items()
        if company == companyid and users[userid].confirmed and not users[userid].deleted
        and not users[userid].suspended and users[userid].auth != "nologin"
    }  # fmt: skip


def set_user(app, userid, **values):
    database = app.extensions["alx_database"]
    user = database.tables.user
    with database.begin() as connection:
        before = connection.execute(sa.select(*(user.c[name] for name in values)).where(user.c.id == userid)).one()
        connection.execute(sa.update(user).where(user.c.id == userid).values(**values))
    return dict(zip(values, before, strict=True))


def token_of(app, firstname, lastname):
    """``(id, token)`` of the token whose owner has this name."""
    database = app.extensions["alx_database"]
    tokens, user = database.tables.external_tokens, database.tables.user
    with database.connect() as connection:
        return connection.execute(
            sa.select(tokens.c.id, tokens.c.token)
            .join(user, user.c.id == tokens.c.userid)
            .where(user.c.firstname == firstname, user.c.lastname == lastname)
        ).one()


def test_only_active_members_are_offered_and_a_revoked_token_stops_working(admin_page, demo):  # issue 22 #9
    page, watcher = admin_page
    base_url, _, app = demo
    database = app.extensions["alx_database"]
    with database.connect() as connection:
        companyid = connection.execute(sa.select(sa.func.min(database.tables.company.c.id))).scalar()
    members = sorted(active_first_members(app, companyid))
    unconfirmed, nologin = members[0], members[1]
    restore = [(unconfirmed, set_user(app, unconfirmed, confirmed=0))]
    restore.append((nologin, set_user(app, nologin, auth="nologin")))
    try:
        page.goto(f"{PREFIX}/create_token.php?companyid={companyid}")
        offered = {int(value) for value in page.eval_on_selector_all("#userid option", "o => o.map(e => e.value)")}
        assert offered == set(members) - {unconfirmed, nologin} == active_first_members(app, companyid)
    finally:
        for userid, values in restore:
            set_user(app, userid, **values)

    page.goto(f"{PREFIX}/create_token.php?companyid={companyid}")
    for (firstname, lastname), errorcode, status in (
        (("Sam", "Suspended"), "wsaccessusersuspended", "refused owner suspended: every call is refused"),
        (("Lone", "Wolf"), "nocompanyassociation", "refused owner in no active company: every call is refused"),
    ):  # the demo's special token owners: what the list says is what a call gets
        tokenid, token = token_of(app, firstname, lastname)
        assert page.inner_text(f"#token-status-{tokenid}").startswith(status)
        assert refused_call(base_url, token)["errorcode"] == errorcode
    page.click("#create-token-form button[type=submit]")
    token = page.input_value("#new-token")
    assert isinstance(refused_call(base_url, token), list)  # the new token works
    page.goto(f"{PREFIX}/create_token.php?companyid={companyid}")
    row = page.locator("#issued-tokens tr", has_text=f"{token[:8]}…")
    assert row.locator("td[id^=token-status-]").inner_text().strip() == "OK"
    row.locator("a", has_text="Revoke").click()
    assert f"Revoke token {token[:8]}…?" in page.inner_text("#revoke-confirm")
    screenshot(page, "revoke_token_confirm")
    page.click("#revoke-form button[type=submit]")
    page.wait_for_url(f"**/create_token.php?companyid={companyid}")
    assert "revoked: calls with it are refused from now on." in page.inner_text("main")
    assert page.locator("#issued-tokens tr", has_text=f"{token[:8]}…").count() == 0
    assert refused_call(base_url, token)["errorcode"] == "invalidtoken"
    assert watcher.problems == []


def rows_of(page, table_id):
    """The cell texts of each body row of the table inside ``table_id``."""
    return page.eval_on_selector_all(
        f"#{table_id} tbody tr", "rows => rows.map(r => Array.from(r.cells, c => c.innerText.trim()))"
    )


def drift(app, company_index, stray_userid=None):
    """Make the reporting rows of the ``company_index``-th company with rows drift from Moodle: 3 rows of its
    biggest course deleted, 2 rows of its next course made stale, and with ``stray_userid`` a live row of that
    non-member. Returns ``(companyid, courses, users, affected)``: the lists a full sync of the company must show
    (as the page's cells) and its ``(courses, users)`` counts."""
    database = app.extensions["alx_database"]
    reporting = database.tables.local_alx_api_reporting
    with database.connect() as connection:
        live = connection.execute(
            sa.select(reporting).where(reporting.c.is_deleted == 0).order_by(reporting.c.companyid, reporting.c.id)
        ).all()
    companyid = sorted({row.companyid for row in live})[company_index]
    by_course = {}
    for row in live:
        if row.companyid == companyid:
            by_course.setdefault(row.courseid, []).append(row)
    first, second = sorted(by_course, key=lambda courseid: (-len(by_course[courseid]), courseid))[:2]
    removed = by_course[first][:3]
    touched = [row for row in by_course[second] if row.userid not in {r.userid for r in removed}][:2]
    counts = {first: [3, 0, 0], second: [0, 2, 0]}  # created, updated, deleted
    names = {first: removed[0].coursename, second: touched[0].coursename}
    users = [[f"{r.firstname} {r.lastname}", r.email, "1", "1", "0", "0"] for r in removed]
    users += [[f"{r.firstname} {r.lastname}", r.email, "1", "0", "1", "0"] for r in touched]
    with database.begin() as connection:
        connection.execute(sa.delete(reporting).where(reporting.c.id.in_([row.id for row in removed])))
        connection.execute(
            sa.update(reporting).where(reporting.c.id.in_([row.id for row in touched])).values(percentage=-1)
        )
        if stray_userid is not None:
            stray = {**touched[0]._asdict(), "userid": stray_userid, "firstname": "Stray", "lastname": "Row"}
            del stray["id"]  # a new row: the database numbers it (PostgreSQL refuses an explicit NULL id)
            connection.execute(sa.insert(reporting).values({**stray, "email": "stray@example.com"}))
            counts[second][2] += 1
            users.append(["Stray Row", "stray@example.com", "1", "0", "0", "1"])
    ordered = sorted(counts, key=lambda courseid: (-sum(counts[courseid]), courseid))  # most changed rows first
    courses = [[f"{names[c]} (ID {c})", *map(str, counts[c]), str(sum(counts[c]))] for c in ordered]
    return companyid, courses, sorted(users), (2, len(users))


def test_populate_lists_the_courses_and_users_it_changed(admin_page, demo):  # issue 22 #8
    """Populating the company must create the three deleted rows again, update the two stale ones, and list
    exactly those courses and users."""
    page, watcher = admin_page
    companyid, courses, users, affected = drift(demo[2], 0)
    page.goto(f"{PREFIX}/populate_reporting_table.php")
    page.check(f"#company-{companyid}")
    page.check("#confirm")
    page.click("#populate-btn")
    page.wait_for_url("**/sync_job.php?job=*")
    page.wait_for_selector("#job-finished", timeout=60_000)  # the page reloads itself when the job has finished
    assert (number(page, "#affected-courses"), number(page, "#affected-users")) == affected
    assert rows_of(page, "job-top-courses") == courses
    assert sorted(rows_of(page, "job-top-users")) == users
    screenshot(page, "populate_affected_lists")
    assert watcher.problems == []


def test_a_manual_full_sync_lists_what_it_changed_and_tombstoned(admin_page, demo):  # issue 22 #8
    page, watcher = admin_page
    companyid, courses, users, affected = drift(demo[2], 1, stray_userid=1)  # Moodle's guest user: in no company
    page.goto(f"{PREFIX}/sync_reporting_data.php")
    page.select_option("#companyid-full", str(companyid))
    page.check("#confirm2")
    page.click("#sync-full-form button[type=submit]")
    page.wait_for_url("**/sync_job.php?job=*")
    page.wait_for_selector("#job-finished", timeout=60_000)
    assert page.inner_text("#job-counts").startswith("1 of 1 companies synced: 3 created, 2 updated, 1 deleted")
    assert (number(page, "#affected-courses"), number(page, "#affected-users")) == affected
    assert rows_of(page, "job-top-courses") == courses
    assert sorted(rows_of(page, "job-top-users")) == users
    assert watcher.problems == []
