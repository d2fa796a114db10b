"""Signing in to the admin pages with Moodle credentials."""

import crypt
import hashlib
import logging

import pytest
import sqlalchemy as sa

from ..conftest import make_app
from .support import ADMIN_PASSWORD, PREFIX, TEACHER_PASSWORD, csrf_token, sign_in


def set_password(site, userid, stored):
    site.update_user(userid, password=stored)


def test_a_site_admin_signs_in_and_lands_on_the_page_asked_for(app, site):
    client = app.test_client()
    response = sign_in(client, next_path=f"{PREFIX}/login.php?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == f"{PREFIX}/login.php?x=1"
    cookie = response.headers["Set-Cookie"]
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
    assert "Secure" in response.headers["Set-Cookie"]


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
    "target", ["https://evil.example/", "//evil.example/x", "/admin/index.php", f"{PREFIX}//evil.example", "/\\evil"]
)
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
