"""Signing in where the database compares usernames loosely or strictly.

MariaDB's ``utf8mb4_unicode_ci`` finds the ``admin`` row for ``ádmin``, ``ÀDMIN`` or ``ａdmin``; PostgreSQL, like
Moodle's PostgreSQL sites, compares byte for byte and finds it for ``admin`` alone. On both only the username
itself signs in (as typed, trimmed and lowercased, the way Moodle's login reads it). On MariaDB every spelling the
collation equates counts against the one account's failure allowance; on PostgreSQL those spellings are unknown
names, whose failures count against each name and leave the admin's allowance alone.
"""

import pytest

from ..conftest import make_app
from .support import ADMIN_PASSWORD, AdminSite, sign_in

SPELLINGS = ["ádmin", "ÀDMIN", "ａdmin", "admín"]


@pytest.fixture(scope="module", params=["mysql", "postgres"])
def site(request, new_database):
    """``(url, backend)`` of an admin site on MariaDB, then on PostgreSQL."""
    with new_database(request.param) as url:
        database = make_app(url).extensions["alx_database"]
        AdminSite(database)  # builds the site and its admin account
        yield url, request.param
        database.engine.dispose()


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_username_spelling_the_database_may_equate_does_not_sign_in(site, spelling):
    url, _ = site
    app = make_app(url, ALX_ADMIN_LOGIN_LIMIT="1000/minute")
    assert sign_in(app.test_client(), username=spelling, password=ADMIN_PASSWORD).status_code == 401


def test_the_username_in_another_case_still_signs_in_as_moodle_lowercases_it(site):
    url, _ = site
    app = make_app(url, ALX_ADMIN_LOGIN_LIMIT="1000/minute")
    assert sign_in(app.test_client(), username=" ADMIN ").status_code == 302


def test_spellings_share_the_login_limit_only_where_the_collation_equates_them(site):
    url, backend = site
    app = make_app(url, ALX_ADMIN_LOGIN_LIMIT="3/minute")
    statuses = [
        sign_in(app.test_client(), username=spelling, password="guess", address=f"192.0.2.{n}").status_code
        for n, spelling in enumerate(SPELLINGS)
    ]
    shared = backend == "mysql"
    assert statuses == ([401, 401, 401, 429] if shared else [401, 401, 401, 401])
    assert sign_in(app.test_client(), username="admin", address="192.0.2.50").status_code == (429 if shared else 302)
