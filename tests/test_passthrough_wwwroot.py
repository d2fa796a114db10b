"""Pass-through and site info as Moodle's wwwroot requires them (``ALX_MOODLE_WWWROOT``, issue 20 items 1 and 2).

Moodle redirects every request whose Host, port or path is not its wwwroot's (``initialise_fullme()``), so a
pass-through that sent the upstream's loopback address as Host got a ``303`` and an HTML page instead of
JSON. Here the upstream is :class:`~tests.moodle_standin.MoodleStandIn`, which judges each request as
Moodle 4.1 and IOMAD do. The bridge runs with ``ALX_TRUSTED_PROXIES=1`` and each request carries the
headers the shipped nginx site sets (the client reaches nginx at ``moodle.example.com``; nginx reaches the
bridge at ``127.0.0.1:8000``).
"""

import http.client
import json
from urllib.parse import urlencode

import pytest

from .moodle_standin import MoodleConfig, MoodleStandIn
from .reference_site import load_reference_site, reference_app
from .rest_support import RELAXED_LIMITS, SERVER, SITE_INFO, U10

CLIENT = "203.0.113.7"
UNIMPLEMENTED = "core_course_get_courses"
QUERY = urlencode([("wstoken", U10), ("wsfunction", UNIMPLEMENTED), ("moodlewsrestformat", "json")])


@pytest.fixture(scope="module")
def site_url(database_url):
    app = reference_app(database_url)
    load_reference_site(app.extensions["alx_database"])
    app.extensions["alx_database"].engine.dispose()
    return database_url


@pytest.fixture
def bridge(site_url):
    """``bridge(upstream, **settings)``: a bridge app behind one trusted proxy on the reference site."""
    apps = []

    def factory(upstream=None, **settings):
        if upstream is not None:
            settings["ALX_MOODLE_UPSTREAM"] = upstream.url
        app = reference_app(site_url, ALX_TRUSTED_PROXIES=1, **RELAXED_LIMITS, **settings)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["alx_database"].engine.dispose()


def through_nginx(app, query=QUERY, host="moodle.example.com", scheme="http", prefix=None):
    """GET server.php as nginx passes it on: Host and X-Forwarded-* describe the client's request."""
    headers = {
        "X-Forwarded-For": CLIENT, "X-Forwarded-Proto": scheme, "X-Forwarded-Host": host,
        "X-Forwarded-Port": "443" if scheme == "https" else "80",
    }  # fmt: skip
    if prefix:
        headers["X-Forwarded-Prefix"] = prefix
    return app.test_client().get(f"{SERVER}?{query}", headers=headers, base_url="http://127.0.0.1:8000")


def test_the_standin_redirects_a_host_that_is_not_wwwroots():
    """What the pass-through used to get: the upstream's own address as Host is not Moodle's wwwroot."""
    with MoodleStandIn(MoodleConfig("http://moodle.example.com")) as moodle:
        connection = http.client.HTTPConnection(moodle.address, timeout=10)
        connection.request("GET", f"{SERVER}?{QUERY}")  # Host: 127.0.0.1:<port>
        response = connection.getresponse()
        body = response.read().decode()
        connection.close()
    assert (response.status, response.headers["Location"]) == (303, "http://moodle.example.com")
    assert body.startswith("<html>")


def test_pass_through_reaches_moodle_under_its_wwwroot(bridge):
    with MoodleStandIn(MoodleConfig("http://moodle.example.com")) as moodle:
        response = through_nginx(bridge(moodle))
        assert response.status_code == 200, response.text
        answer = response.get_json()
        assert answer["fullme"] == f"http://moodle.example.com{SERVER}?{QUERY}"
        assert answer["wsfunction"] == UNIMPLEMENTED
        assert answer["x_forwarded_for"] == CLIENT  # the trusted client address, not "client, proxy"
        headers = moodle.seen[-1]["headers"]
        assert (headers["Host"], headers["X-Forwarded-Host"]) == ("moodle.example.com", "moodle.example.com")
        assert (headers["X-Forwarded-Proto"], headers["X-Forwarded-Port"]) == ("http", "80")


def test_a_forged_forwarded_header_does_not_reach_moodle(bridge):
    """The X-Forwarded-* Moodle gets describe the request the bridge trusts, whatever else the client sent."""
    with MoodleStandIn(MoodleConfig("http://moodle.example.com")) as moodle:
        app = bridge(moodle)
        response = app.test_client().get(
            f"{SERVER}?{QUERY}", base_url="http://moodle.example.com",
            headers={"Forwarded": "for=10.9.9.9", "X-Real-IP": "10.9.9.9"},
        )  # fmt: skip
        assert response.get_json()["x_forwarded_for"] == "127.0.0.1"
        assert "Forwarded" not in moodle.seen[-1]["headers"] and "X-Real-IP" not in moodle.seen[-1]["headers"]


def test_tls_ending_at_nginx_needs_moodles_sslproxy_not_reverseproxy(bridge):
    """operations.md: with https wwwroot and TLS at nginx, Moodle sets $CFG->sslproxy; $CFG->reverseproxy breaks it."""
    with MoodleStandIn(MoodleConfig("https://moodle.example.com")) as moodle:
        app = bridge(moodle)
        redirected = through_nginx(app, scheme="https")
        assert (redirected.status_code, redirected.headers["Location"]) == (303, "https://moodle.example.com")
        moodle.config.sslproxy = True
        response = through_nginx(app, scheme="https")
        assert response.get_json()["fullme"] == f"https://moodle.example.com{SERVER}?{QUERY}"
        moodle.config.reverseproxy = True
        abused = through_nginx(app, scheme="https")
        assert abused.status_code == 503 and "reverseproxyabused" in abused.text


@pytest.mark.parametrize("setting, prefix", [(True, None), (False, "/moodle"), (True, "/moodle")])
def test_moodle_served_under_a_path(bridge, setting, prefix):
    """wwwroot https://host/moodle: the path comes from ALX_MOODLE_WWWROOT or from nginx's X-Forwarded-Prefix."""
    wwwroot = "http://moodle.example.com/moodle"
    with MoodleStandIn(MoodleConfig(wwwroot)) as moodle:
        app = bridge(moodle, **({"ALX_MOODLE_WWWROOT": wwwroot} if setting else {}))
        response = through_nginx(app, prefix=prefix)
        assert response.get_json()["fullme"] == f"{wwwroot}{SERVER}?{QUERY}"
        assert moodle.seen[-1]["path"] == f"/moodle{SERVER}?{QUERY}"


def test_iomad_company_hostnames_stay_the_clients(bridge):
    """IOMAD's per-company URL: Moodle sees the company's hostname and answers as IOMAD configures it."""
    companies = {"acme.example.com": (2, "ACME")}
    with MoodleStandIn(MoodleConfig("http://moodle.example.com", company_hostnames=companies)) as moodle:
        app = bridge(moodle, ALX_MOODLE_WWWROOT="http://moodle.example.com")
        # Without IOMAD's config.php recipe, IOMAD sends the company's hostname to its login page…
        redirected = through_nginx(app, host="acme.example.com")
        assert redirected.status_code == 303
        assert redirected.headers["Location"] == "http://moodle.example.com/login/index.php?id=2&code=ACME"
        # …with it, wwwroot follows the company's hostname and the call is served there.
        moodle.config.tenant_wwwroot = True
        response = through_nginx(app, host="acme.example.com")
        assert response.get_json()["fullme"] == f"http://acme.example.com{SERVER}?{QUERY}"
        assert moodle.seen[-1]["headers"]["Host"] == "acme.example.com"


def _site_info(response):
    assert response.status_code == 200, response.text
    return json.loads(response.text)


def test_site_info_names_moodles_wwwroot_not_the_bridges_address(bridge):
    """A script on the host calling the bridge's loopback port still gets Moodle's public URLs."""
    wwwroot = "https://moodle.example.com/moodle"
    app = bridge(ALX_MOODLE_WWWROOT=wwwroot)
    query = urlencode([("wstoken", U10), ("wsfunction", SITE_INFO), ("moodlewsrestformat", "json")])
    info = _site_info(app.test_client().get(f"{SERVER}?{query}", base_url="http://127.0.0.1:8000"))
    assert info["siteurl"] == wwwroot
    assert info["userpictureurl"].startswith(wwwroot + "/")


def test_site_info_without_the_setting_follows_nginxs_description(bridge):
    query = urlencode([("wstoken", U10), ("wsfunction", SITE_INFO), ("moodlewsrestformat", "json")])
    info = _site_info(through_nginx(bridge(), query, scheme="https", prefix="/moodle"))
    assert info["siteurl"] == "https://moodle.example.com/moodle"
