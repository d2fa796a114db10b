"""Spellings that MariaDB's ``utf8mb4_unicode_ci`` treats as equal (case, trailing spaces, accents) on server.php.

MariaDB finds a row for such a spelling, PostgreSQL (byte for byte, as on Moodle's PostgreSQL sites) none; on
both the bridge accepts only the stored value itself, so no spelling becomes a second working token with an
abuse-shield allowance of its own, and no spelling of a function the bridge answers is passed through to Moodle
(where the PHP plugin would run it).
"""

import urllib.parse

import pytest

from .reference_site import load_reference_site, reference_app
from .rest_support import (
    PROGRESS,
    RELAXED_LIMITS,
    SITE_INFO,
    U10,
    assert_moodle_response,
    call,
    envelope,
    recorded_site_info,
)
from .test_rest_passthrough import Upstream

INVALID_TOKEN = envelope("json", "moodle_exception", "invalidtoken", "Invalid token - token not found")
TOKEN_SPELLINGS = {
    "upper case": U10.upper(),
    "trailing space": U10 + " ",
    "accented letter": U10.replace("a", "á", 1),
}


@pytest.fixture(scope="module")
def upstream():
    with Upstream() as server:
        yield server


@pytest.fixture(scope="module", params=["mysql", "postgres"])
def app(request, new_database, upstream):
    with new_database(request.param) as url:
        app = reference_app(url, ALX_MOODLE_UPSTREAM=upstream.url, **RELAXED_LIMITS)
        load_reference_site(app.extensions["alx_database"])
        yield app
        app.extensions["alx_database"].engine.dispose()


def site_info(client, token):
    return call(client, [("wstoken", token), ("wsfunction", SITE_INFO), ("moodlewsrestformat", "json")])


def test_the_stored_token_itself_still_works(app):
    assert_moodle_response(site_info(app.test_client(), U10), "json", recorded_site_info("json"))


@pytest.mark.parametrize("spelling", TOKEN_SPELLINGS.values(), ids=TOKEN_SPELLINGS.keys())
def test_a_token_spelling_the_collation_equates_is_an_invalid_token(app, spelling):
    assert_moodle_response(site_info(app.test_client(), spelling), "json", INVALID_TOKEN)


@pytest.mark.parametrize("spelling", [PROGRESS + " ", PROGRESS.upper(), PROGRESS.replace("o", "ó", 1)])
def test_a_spelling_of_a_bridge_function_goes_to_moodle_only_where_moodle_cannot_resolve_it(app, upstream, spelling):
    """MariaDB would resolve the spelling to the plugin's function: the bridge answers Moodle's unknown-function
    error itself. PostgreSQL resolves none, so Moodle can only refuse it too: the call is passed through."""
    upstream.seen.clear()
    response = call(app.test_client(), [("wstoken", U10), ("wsfunction", spelling), ("moodlewsrestformat", "json")])
    if app.extensions["alx_database"].engine.dialect.name == "postgresql":
        assert [urllib.parse.parse_qs(seen["path"].partition("?")[2])["wsfunction"] for seen in upstream.seen] == [
            [spelling]
        ]
        return
    assert upstream.seen == []
    assert_moodle_response(response, "json")
    assert response.json["errorcode"] == "invalidrecord"
