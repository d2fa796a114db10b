"""Issue 15: an answer says what it is, and Power Query is answered in full under the default (auto) mode.

Power BI and Excel (Power Query) replace their table on every refresh, so an incremental answer would
become their whole dataset; auto mode serves them full read sessions. Clients that merge tell a full
answer from an incremental one by the ``X-ALX-Sync-*`` headers; the body stays the plugin's. The
replay window is left by ageing the token's sessions (``later``), as in ``test_progress_sessions``.
"""

import pytest

from alxbridge.reporting import sessions as reading
from alxbridge.reporting.clients import BROWSER, OTHER, POSTMAN, POWER_QUERY, SCRIPT, client_kind

from ..progress_support import C1, C1C, progress_row
from ..rest_support import EXPECTED_HEADERS, assert_moodle_response, served_headers, sync_headers

# Microsoft's Power Query documentation (connector authentication) shows this exact agent; the Service,
# the gateway and Excel run the same mashup engine.
POWER_QUERY_AGENT = "Microsoft.Data.Mashup (https://go.microsoft.com/fwlink/?LinkID=304225)"
SCRIPT_AGENT = "python-requests/2.32.3"
AUTO, INCREMENTAL, FULL, DISABLED = 0, 1, 2, 3


def rows(*userids, tag="v0"):
    return [progress_row(userid, 101, tag=tag) for userid in userids]


def later(site, token=C1):
    site.age_sessions(token, reading.REUSE_SECONDS + 60)


def read(site, agent, limit=10, token=C1):
    """Every page of one read session as ``agent``: ``(userids, headers of each page)``."""
    userids, headers, offset = [], [], 0
    while True:
        response = site.call(token, limit, offset, headers={"User-Agent": agent})
        assert response.status_code == 200
        headers.append(sync_headers(response))
        page = response.json
        userids += [item["userid"] for item in page]
        offset += len(page)
        if len(page) < limit:
            return userids, headers


@pytest.mark.parametrize(
    ("agent", "kind"),
    [
        (POWER_QUERY_AGENT, POWER_QUERY),
        ("microsoft.data.mashup", POWER_QUERY),
        ("PostmanRuntime/7.39.0", POSTMAN),
        ("curl/7.88.1", SCRIPT),
        (SCRIPT_AGENT, SCRIPT),
        ("Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.22621.2506", SCRIPT),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36", BROWSER),
        ("", OTHER),
        (None, OTHER),
    ],
)
def test_client_kind_of_user_agents(agent, kind):
    assert client_kind(agent) == kind


def test_auto_mode_answers_power_query_in_full_and_scripts_incrementally(site):
    first = site.write(1, rows(1000, 1001, 1002))
    assert read(site, POWER_QUERY_AGENT) == ([1000, 1001, 1002], [("full", "0", str(first))])
    later(site)
    second = site.write(1, rows(1001, tag="changed"))
    # The plugin's documented afternoon refresh: only the changed row, which Power BI would make its whole table.
    assert read(site, POWER_QUERY_AGENT) == ([1000, 1001, 1002], [("full", "0", str(second))])
    later(site)
    third = site.write(1, rows(1002, tag="changed"))
    assert read(site, SCRIPT_AGENT) == ([1002], [("incremental", str(second), str(third))])


def test_an_explicit_incremental_mode_is_honoured_for_power_query(site):
    site.company_setting(1, "sync_mode", INCREMENTAL)
    first = site.write(1, rows(1000, 1001))
    assert read(site, POWER_QUERY_AGENT) == ([1000, 1001], [("full", "0", str(first))])  # nothing acknowledged yet
    later(site)
    second = site.write(1, rows(1001, tag="changed"))
    assert read(site, POWER_QUERY_AGENT) == ([1001], [("incremental", str(first), str(second))])


@pytest.mark.parametrize("mode", [FULL, DISABLED])
def test_full_and_disabled_modes_say_full_to_everyone(site, mode):
    site.company_setting(1, "sync_mode", mode)
    version = site.write(1, rows(1000))
    read(site, SCRIPT_AGENT)
    later(site)
    assert read(site, SCRIPT_AGENT) == ([1000], [("full", "0", str(version))])


def test_every_page_of_a_session_and_its_replay_carry_the_sessions_headers(site):
    before = site.write(1, rows(*range(1000, 1005)))
    read(site, SCRIPT_AGENT, limit=2)
    later(site)
    after = site.write(1, rows(*range(1000, 1005), tag="b"))
    window = ("incremental", str(before), str(after))
    assert read(site, SCRIPT_AGENT, limit=2) == ([1000, 1001, 1002, 1003, 1004], [window] * 3)
    assert read(site, SCRIPT_AGENT, limit=2) == ([1000, 1001, 1002, 1003, 1004], [window] * 3)  # the replay


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_headers_follow_moodles_and_the_body_is_unchanged(site, fmt):
    """The same bytes with and without the session headers: a second token reads the same full session."""
    version = site.write(1, rows(1000, 1001))
    answer = site.call(C1, 10, 0, fmt=fmt)
    other = site.call(C1C, 10, 0, fmt=fmt, headers={"User-Agent": POWER_QUERY_AGENT})
    assert answer.data == other.data
    assert served_headers(answer.headers.items()) == [
        *EXPECTED_HEADERS[fmt],
        ("X-ALX-Sync-Mode", "full"), ("X-ALX-Sync-Since", "0"), ("X-ALX-Sync-Version", str(version)),
    ]  # fmt: skip


def test_live_answers_before_the_first_sync_say_full_at_version_zero(site):
    assert sync_headers(site.call(C1, 10, 0)) == ("full", "0", "0")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_refusals_carry_no_session_headers(site, fmt):
    site.write(1, rows(1000))
    assert_moodle_response(site.call(C1, 5000, 0, fmt=fmt), fmt)  # limittoolarge
    assert_moodle_response(site.call(C1, 10, -1, fmt=fmt), fmt)  # invalidoffset
