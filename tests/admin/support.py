"""Helpers of the admin page tests: a small hand-built site with admins, and signed-in clients."""

import re

from alxbridge.demo.credentials import moodle_bcrypt

from ..sitebuilder import SiteBuilder

PREFIX = "/local/alx_report_api"
ADMIN_PASSWORD = "Admin-Pass-1"
TEACHER_PASSWORD = "Teacher-Pass-1"
XSS = "<script>alert('x')</script>"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html):
    match = _CSRF.search(html)
    assert match, "the page has no CSRF token field"
    return match.group(1)


class AdminSite(SiteBuilder):
    """A site at the tests' fixed time (:data:`~tests.sitebuilder.NOW`), which the pages read as "now".

    ``admin`` is a site admin with a bcrypt password; ``teacher`` a plain user with one.
    """

    def __init__(self, database):
        super().__init__(database)
        self.create_tables()
        self.core_config("siteadmins", "2")
        self.user("Guest", "User", username="guest")  # Moodle's user 1
        self.admin = self.user("Ada", "Admin", username="admin", password=moodle_bcrypt(ADMIN_PASSWORD, 1))
        assert self.admin == 2
        self.teacher = self.user("Tom", "Teacher", username="teacher", password=moodle_bcrypt(TEACHER_PASSWORD, 2))


def sign_in(client, username="admin", password=ADMIN_PASSWORD, next_path=None, address="127.0.0.1"):
    """Sign in through the login page, from the client address ``address``."""
    environ = {"REMOTE_ADDR": address}
    page = client.get(f"{PREFIX}/login.php", environ_base=environ)
    data = {"username": username, "password": password, "csrf_token": csrf_token(page.get_data(as_text=True))}
    if next_path:
        data["next"] = next_path
    return client.post(f"{PREFIX}/login.php", data=data, environ_base=environ)


def post_form(client, path, data=None, page=None):
    """POST ``data`` to ``path`` with the CSRF token of ``page`` (default: a GET of ``path``)."""
    html = client.get(page or path).get_data(as_text=True)
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(html)})
