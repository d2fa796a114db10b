"""The abuse shield (Flask-Limiter): limits per token, per client IP and for failed authentications.

Each test builds its own app with tiny limits and ``memory://`` storage, so counters start at zero. A
breach is a Moodle envelope (``ratelimitexceeded``) with HTTP 200 and Moodle's headers — never
Flask-Limiter's HTML 429.
"""

import pytest

from .reference_site import load_reference_site, reference_app
from .rest_support import (
    BAD_TOKEN,
    LONER,
    OTHER_SERVICE,
    SITE_INFO,
    U10,
    assert_moodle_response,
    call,
    envelope,
    recorded_site_info,
)

HIGH = "100000/minute"
BREACH_MESSAGE = "Too many requests in a short time; please retry later"


@pytest.fixture(scope="module")
def site_url(database_url):
    app = reference_app(database_url)
    load_reference_site(app.extensions["alx_database"])
    app.extensions["alx_database"].engine.dispose()
    return database_url


@pytest.fixture
def shielded_app(site_url):
    """``shielded_app(per_ip=…, per_token=…, failed_auth=…, debug=…)``: a fresh app, fresh counters."""
    apps = []

    def build(per_ip=HIGH, per_token=HIGH, failed_auth=HIGH, debug=0):
        app = reference_app(
            site_url,
            ALX_RATELIMIT_STORAGE_URI="memory://",
            ALX_RATELIMIT_PER_IP=per_ip,
            ALX_RATELIMIT_PER_TOKEN=per_token,
            ALX_RATELIMIT_FAILED_AUTH=failed_auth,
            ALX_DEBUG_LEVEL=debug,
        )
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["alx_database"].engine.dispose()


def site_info(client, token=U10, response_format="json", ip="127.0.0.1"):
    query = [("wstoken", token), ("wsfunction", SITE_INFO)]
    if response_format == "json":
        query.append(("moodlewsrestformat", "json"))
    return call(client, query, environ_base={"REMOTE_ADDR": ip})


def assert_breach(response, response_format, debuginfo=None):
    expected = envelope(response_format, "moodle_exception", "ratelimitexceeded", BREACH_MESSAGE, debuginfo)
    assert_moodle_response(response, response_format, expected)
    assert b"<html" not in response.data.lower()


def assert_site_info(response, response_format="json"):
    assert_moodle_response(response, response_format, recorded_site_info(response_format))


@pytest.mark.parametrize("response_format", ["json", "xml"])
def test_fourth_call_of_a_token_is_refused_with_an_envelope(shielded_app, response_format):
    client = shielded_app(per_token="3/minute").test_client()
    for _ in range(3):
        assert_site_info(site_info(client, response_format=response_format), response_format)
    assert_breach(site_info(client, response_format=response_format), response_format)
    assert_breach(site_info(client, response_format=response_format, ip="10.1.1.1"), response_format)  # any IP
    other = site_info(client, token=OTHER_SERVICE, response_format=response_format)
    assert b"ratelimitexceeded" not in other.data  # other tokens keep their own count


@pytest.mark.parametrize("response_format", ["json", "xml"])
def test_breach_carries_the_limit_as_debuginfo_when_debugging(shielded_app, response_format):
    client = shielded_app(per_token="1/minute", debug=15).test_client()
    site_info(client, response_format=response_format)
    assert_breach(site_info(client, response_format=response_format), response_format, "Limit 1 per 1 minute reached")


@pytest.mark.parametrize("response_format", ["json", "xml"])
def test_per_ip_limit(shielded_app, response_format):
    client = shielded_app(per_ip="3/minute").test_client()
    for token in (U10, OTHER_SERVICE, LONER):  # different tokens, one address
        assert b"ratelimitexceeded" not in site_info(client, token, response_format, ip="10.0.0.1").data
    assert_breach(site_info(client, U10, response_format, ip="10.0.0.1"), response_format)
    assert_site_info(site_info(client, U10, response_format, ip="10.0.0.2"), response_format)


def test_breach_is_answered_in_the_format_of_the_refused_call(shielded_app):
    client = shielded_app(per_token="1/minute").test_client()
    assert_site_info(site_info(client, response_format="json"))
    assert_breach(site_info(client, response_format="xml"), "xml")
    assert_breach(site_info(client, response_format="json"), "json")


@pytest.mark.parametrize("response_format", ["json", "xml"])
def test_token_guessing_is_blocked_while_other_clients_go_on(shielded_app, response_format):
    client = shielded_app(failed_auth="3/minute").test_client()
    guesser, honest = "10.6.6.6", "10.7.7.7"
    for attempt in range(3):
        guess = site_info(client, f"{BAD_TOKEN[:-2]}{attempt:02d}", response_format, ip=guesser)
        assert b"invalidtoken" in guess.data
    assert_breach(site_info(client, BAD_TOKEN, response_format, ip=guesser), response_format)
    assert_breach(site_info(client, U10, response_format, ip=guesser), response_format)  # the address is blocked
    for _ in range(5):  # successful calls from elsewhere are not counted as failures, nor blocked
        assert_site_info(site_info(client, U10, response_format, ip=honest), response_format)


def test_successful_calls_do_not_count_as_failed_authentications(shielded_app):
    client = shielded_app(failed_auth="2/minute").test_client()
    for _ in range(6):
        assert_site_info(site_info(client))
    assert b"invalidtoken" in site_info(client, BAD_TOKEN).data
    assert_site_info(site_info(client))
    assert b"invalidtoken" in site_info(client, BAD_TOKEN).data
    assert_breach(site_info(client), "json")


def test_errors_after_authentication_are_not_failed_authentications(shielded_app):
    """An unknown function or a bad parameter is the caller's mistake, not a guessed token."""
    client = shielded_app(failed_auth="1/minute").test_client()
    for query in ([("wsfunction", "core_no_such_function")], [("wsfunction", SITE_INFO), ("foo", "1")]):
        for _ in range(3):
            response = call(client, [("wstoken", U10), *query, ("moodlewsrestformat", "json")])
            assert b"invalidrecord" in response.data or b"invalidparameter" in response.data
    assert_site_info(site_info(client))


def test_the_refused_call_reaches_no_function(shielded_app):
    """A refused call is answered before authentication: the token's lastaccess is not refreshed."""
    app = shielded_app(per_ip="1/minute")
    database = app.extensions["alx_database"]
    tokens = database.tables.external_tokens
    client = app.test_client()
    assert_site_info(site_info(client))
    with database.begin() as connection:
        connection.execute(tokens.update().where(tokens.c.token == U10).values(lastaccess=None))
    assert_breach(site_info(client), "json")
    with database.connect() as connection:
        assert connection.execute(tokens.select().where(tokens.c.token == U10)).mappings().one()["lastaccess"] is None
