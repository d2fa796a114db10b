"""Signing in to the admin pages with Moodle credentials."""

import crypt
import hashlib
import logging
import time

import pytest
import sqlalchemy as sa

from ..conftest import make_app
from .support import ADMIN_PASSWORD, PREFIX, TEACHER_PASSWORD, csrf_token, sign_in

SESSION_COOKIE = "AlxBridgeSession"


def set_password(site, userid, stored):
    site.update_user(userid, password=stored)


def test_a_site_admin_signs_in_and_lands_on_the_page_asked_for(app, site):
    client = app.test_client()
    response = sign_in(client, next_path=f"{PREFIX}/login.php?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == f"{PREFIX}/login.php?x=1"
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("AlxBridgeSession=")]
    assert "AlxBridgeSession=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert f"Path={PREFIX}/" in cookie


def test_the_session_cookie_is_secure_behind_https(app, site):
    client = app.test_client()
    page = client.get(f"{PREFIX}/login.php", base_url="https://moodle.example")
    response = client.post(
        f"{PREFIX}/login.php",
        base_url="https://moodle.example",
        headers={"Referer": "https://moodle.example/local/alx_report_api/login.php"},
        data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    assert response.status_code == 302
    assert all("Secure" in cookie for cookie in response.headers.getlist("Set-Cookie"))


def test_a_wrong_password_is_refused_and_logged_without_the_password(app, site, caplog):
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="alxbridge.admin.login"):
        response = sign_in(client, password="Not-The-Password-9")
    assert response.status_code == 401
    assert "Invalid login, please try again" in response.get_data(as_text=True)
    assert "wrong password" in caplog.text and "'admin'" in caplog.text
    assert "Not-The-Password-9" not in caplog.text


def test_a_moodle_user_who_is_not_a_site_admin_is_refused(app, site, caplog):
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="alxbridge.admin.login"):
        response = sign_in(client, username="teacher", password=TEACHER_PASSWORD)
    assert response.status_code == 401
    assert "not a site administrator" in caplog.text


def test_a_suspended_admin_is_refused(app, site):
    site.update_user(site.admin, suspended=1)
    try:
        assert sign_in(app.test_client()).status_code == 401
    finally:
        site.update_user(site.admin, suspended=0)


@pytest.mark.parametrize("scheme", ["sha512crypt", "md5+salt", "md5"])
def test_older_moodle_password_hashes_are_accepted(database_url, site, scheme):
    salts = {"md5+salt": "SaltMain1"}.get(scheme)
    app = make_app(database_url, ALX_PASSWORD_SALTS=salts)
    stored = {
        "sha512crypt": crypt.crypt("Older-Pass-1", crypt.mksalt(crypt.METHOD_SHA512)),
        "md5+salt": hashlib.md5(b"Older-Pass-1SaltMain1", usedforsecurity=False).hexdigest(),
        "md5": hashlib.md5(b"Older-Pass-1", usedforsecurity=False).hexdigest(),
    }[scheme]
    with site.database.connect() as connection:
        original = connection.execute(sa.select(site.tables.user.c.password).where(site.tables.user.c.id == 2)).scalar()
    set_password(site, site.admin, stored)
    try:
        assert sign_in(app.test_client(), password="Older-Pass-1").status_code == 302
        assert sign_in(app.test_client(), password="older-pass-1").status_code == 401
    finally:
        set_password(site, site.admin, original)


def test_a_password_change_in_moodle_ends_the_bridge_session(app, site, admin_client):
    assert admin_client.get(f"{PREFIX}/login.php").status_code == 200
    with site.database.connect() as connection:
        original = connection.execute(sa.select(site.tables.user.c.password).where(site.tables.user.c.id == 2)).scalar()
    set_password(site, site.admin, hashlib.md5(b"changed", usedforsecurity=False).hexdigest())
    try:
        response = admin_client.get(f"{PREFIX}/ajax_stats.php")
        assert response.status_code == 401 and response.is_json
    finally:
        set_password(site, site.admin, original)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/", "//evil.example/x", "/admin/index.php", f"{PREFIX}//evil.example", "/\\evil",
        f"{PREFIX}/../../evil", f"{PREFIX}/%2e%2e/%2E%2E/evil", f"{PREFIX}/./../admin/index.php?x=1",
    ],
)  # fmt: skip
def test_next_never_leaves_the_admin_pages(app, site, target):
    response = sign_in(app.test_client(), next_path=target)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{PREFIX}/control_center.php"


def test_signed_out_visitors_are_sent_to_the_login_page(app, site):
    response = app.test_client().get(f"{PREFIX}/control_center.php?tab=companies")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"{PREFIX}/login.php?next=")


def test_login_attempts_are_rate_limited(database_url, site):
    app = make_app(database_url, ALX_ADMIN_LOGIN_LIMIT="3/minute")
    client = app.test_client()
    statuses = [sign_in(client, password="wrong").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_logout_needs_the_csrf_token_and_ends_the_session(app, site, admin_client):
    assert admin_client.post(f"{PREFIX}/logout.php").status_code == 400
    html = admin_client.get(f"{PREFIX}/login.php").get_data(as_text=True)
    response = admin_client.post(f"{PREFIX}/logout.php", data={"csrf_token": csrf_token(html)})
    assert response.status_code == 302
    assert admin_client.get(f"{PREFIX}/ajax_stats.php").status_code == 401


def test_a_copied_session_cookie_stops_working_after_logout(app, site, admin_client):
    copy = app.test_client()
    copy.set_cookie(SESSION_COOKIE, admin_client.get_cookie(SESSION_COOKIE, path=f"{PREFIX}/").value, path=f"{PREFIX}/")
    assert copy.get(f"{PREFIX}/ajax_stats.php").status_code == 200
    html = admin_client.get(f"{PREFIX}/login.php").get_data(as_text=True)
    assert admin_client.post(f"{PREFIX}/logout.php", data={"csrf_token": csrf_token(html)}).status_code == 302
    assert copy.get(f"{PREFIX}/ajax_stats.php").status_code == 401


def test_a_busy_session_still_ends_after_its_absolute_lifetime(app, site, admin_client):
    sessions = site.tables.local_alxbridge_admin_session
    assert admin_client.get(f"{PREFIX}/ajax_stats.php").status_code == 200
    started_long_ago = site.now - app.config["ALX_ADMIN_SESSION_LIFETIME"] - 1
    with site.database.begin() as connection:
        connection.execute(
            sa.update(sessions).where(sessions.c.userid == site.admin).values(timecreated=started_long_ago)
        )
    assert admin_client.get(f"{PREFIX}/ajax_stats.php").status_code == 401


@pytest.mark.parametrize("auth", ["nologin", "ldap"])
def test_an_admin_switched_to_another_authentication_loses_the_session(app, site, admin_client, auth):
    assert admin_client.get(f"{PREFIX}/ajax_stats.php").status_code == 200
    site.update_user(site.admin, auth=auth)
    try:
        assert admin_client.get(f"{PREFIX}/ajax_stats.php").status_code == 401
    finally:
        site.update_user(site.admin, auth="manual")


def test_strangers_failures_do_not_lock_the_admin_out_of_a_browser_they_signed_in_from(database_url, site):
    app = make_app(database_url, ALX_ADMIN_LOGIN_LIMIT="3/minute")
    browser = app.test_client()
    assert sign_in(browser).status_code == 302
    strangers = [sign_in(app.test_client(), password="guess", address=f"192.0.2.{n}").status_code for n in range(5)]
    assert strangers == [401, 401, 401, 429, 429]  # the account's allowance for unknown browsers is used up
    assert sign_in(app.test_client(), address="192.0.2.99").status_code == 429
    assert sign_in(browser, address="198.51.100.7").status_code == 302


def test_a_known_browser_gets_only_its_own_failure_allowance(database_url, site):
    app = make_app(database_url, ALX_ADMIN_LOGIN_LIMIT="3/minute")
    browser = app.test_client()
    assert sign_in(browser).status_code == 302
    attempts = [sign_in(browser, password="guess", address=f"192.0.2.{n}").status_code for n in range(4)]
    assert attempts == [401, 401, 401, 429]


def _refusal_seconds(app, username, password):
    """One refused sign-in's duration, in seconds."""
    client = app.test_client()
    html = client.get(f"{PREFIX}/login.php").get_data(as_text=True)
    data = {"username": username, "password": password, "csrf_token": csrf_token(html)}
    started = time.perf_counter()
    assert client.post(f"{PREFIX}/login.php", data=data).status_code == 401
    return time.perf_counter() - started


def _fastest_refusals(app, usernames, password, rounds=5):
    """The fastest refusal of each username, the names measured in turn every round.

    The floor is what an attacker's timing measures; interleaving the names makes load from other
    processes fall on all of them alike instead of on whichever was measured in a busy second.
    """
    fastest = dict.fromkeys(usernames, float("inf"))
    for _ in range(rounds):
        for username in usernames:
            fastest[username] = min(fastest[username], _refusal_seconds(app, username, password))
    return fastest


def test_every_refusal_costs_as_much_as_checking_a_bcrypt_password(app, site):
    sha512 = crypt.crypt("Sam-Pass-1", crypt.mksalt(crypt.METHOD_SHA512))
    site.user("Sam", "Sha", username="sam.sha", password=sha512)
    site.user("Lee", "Ldap", username="lee.ldap", password="not cached", auth="ldap")
    site.user("Mo", "Md5", username="mo.md5", password=hashlib.md5(b"Mo-Pass-1", usedforsecurity=False).hexdigest())
    others = ("sam.sha", "lee.ldap", "mo.md5", "nobody.here")
    fastest = _fastest_refusals(app, ("admin", *others), "Wrong-Pass-1")
    for username in others:
        assert fastest[username] > 0.6 * fastest["admin"], (username, fastest)
