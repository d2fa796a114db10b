"""Signing in on MariaDB, whose ``utf8mb4_unicode_ci`` finds the ``admin`` row for ``ádmin``, ``ÀDMIN`` or ``ａdmin``,
and on PostgreSQL, which finds it for ``admin`` alone.

Only the username itself signs in (as typed, trimmed and lowercased, the way Moodle's login reads it).
On MariaDB every spelling the collation equates counts against the one account's failure allowance.
"""

import pytest

from ..conftest import make_app
from .support import ADMIN_PASSWORD, AdminSite, sign_in

SPELLINGS = ["ádmin", "ÀDMIN", "ａdmin", "admín"]


@pytest.fixture(scope="module")
def site(mysql_url):
    database = make_app(mysql_url).extensions["alx_database"]
    yield AdminSite(database)
    database.engine.dispose()


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_username_spelling_the_collation_equates_does_not_sign_in(mysql_url, site, spelling):
    app = make_app(mysql_url, ALX_ADMIN_LOGIN_LIMIT="1000/minute")
    assert sign_in(app.test_client(), username=spelling, password=ADMIN_PASSWORD).status_code == 401


def test_the_username_in_another_case_still_signs_in_as_moodle_lowercases_it(mysql_url, site):
    app = make_app(mysql_url, ALX_ADMIN_LOGIN_LIMIT="1000/minute")
    assert sign_in(app.test_client(), username=" ADMIN ").status_code == 302


def test_accented_username_spelling_shares_the_login_limit(mysql_url, site):
    app = make_app(mysql_url, ALX_ADMIN_LOGIN_LIMIT="3/minute")
    statuses = [
        sign_in(app.test_client(), username=spelling, password="guess", address=f"192.0.2.{n}").status_code
        for n, spelling in enumerate(SPELLINGS)
    ]
    assert statuses == [401, 401, 401, 429]
    assert sign_in(app.test_client(), username="admin", password="guess", address="192.0.2.50").status_code == 429


# PostgreSQL: Moodle's sites there compare text byte for byte (deterministic collations), so the database finds the
# account for the username itself only. Other spellings are unknown names: they never sign in, and since no
# account stands behind them their failures count against each name, not against the admin's allowance.


@pytest.fixture(scope="module")
def postgres_site(postgres_url):
    database = make_app(postgres_url).extensions["alx_database"]
    yield AdminSite(database)
    database.engine.dispose()


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_on_postgres_another_spelling_finds_no_account(postgres_url, postgres_site, spelling):
    app = make_app(postgres_url, ALX_ADMIN_LOGIN_LIMIT="1000/minute")
    assert sign_in(app.test_client(), username=spelling, password=ADMIN_PASSWORD).status_code == 401


def test_on_postgres_the_username_in_another_case_signs_in_as_moodle_lowercases_it(postgres_url, postgres_site):
    app = make_app(postgres_url, ALX_ADMIN_LOGIN_LIMIT="1000/minute")
    assert sign_in(app.test_client(), username=" ADMIN ").status_code == 302


def test_on_postgres_other_spellings_leave_the_admins_allowance_alone(postgres_url, postgres_site):
    app = make_app(postgres_url, ALX_ADMIN_LOGIN_LIMIT="3/minute")
    statuses = [
        sign_in(app.test_client(), username=spelling, password="guess", address=f"192.0.2.{n}").status_code
        for n, spelling in enumerate(SPELLINGS)
    ]
    assert statuses == [401, 401, 401, 401]
    assert sign_in(app.test_client(), username="admin", address="192.0.2.50").status_code == 302
