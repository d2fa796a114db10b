"""One test per bug of the plugin's ``get_course_progress`` that the bridge avoids (plugin-behaviour.md §9),
named after the correct behaviour. Each docstring says what the plugin does instead.
"""

import json

import pytest

from alxbridge.sync.runs import run_sync

from ..progress_support import C1, C1B, C1C, C3, item_key, progress_row, token_hash

EMPTY_TOKEN_HASH = token_hash("")


def keys(items):
    return sorted(item_key(item) for item in items)


COMPANY_1_ROWS = [(10, 101), (10, 102), (10, 104), (11, 101), (11, 106), (12, 101), (12, 102), (12, 104),
                  (13, 104), (19, 101), (20, 106)]  # fmt: skip


def test_every_course_of_a_multi_course_user_is_returned(site):
    """B1: the plugin's live query is keyed by userid, so a user's courses collapse into one row per page."""
    live = site.page(C1)
    assert keys(live) == COMPANY_1_ROWS
    assert sorted(item["courseid"] for item in live if item["userid"] == 10) == [101, 102, 104]
    for limit in (2, 3):  # also page by page: pages are never short of rows while more exist
        assert keys(site.read_all(C1, limit)[0]) == COMPANY_1_ROWS
    run_sync(site.database, full=True)
    site.age_sessions(C1, 3600)
    synced, _ = site.read_all(C1, 4)
    assert keys(synced) == COMPANY_1_ROWS
    u10 = {item["courseid"]: (item["status"], item["percentage"]) for item in synced if item["userid"] == 10}
    assert u10 == {101: ("completed", 100), 102: ("in_progress", 50), 104: ("not_started", 0)}


def test_every_page_of_a_full_load_is_served(site):
    """B3: in Auto mode the plugin's first page moves the watermark, so page 2+ of a full load are empty."""
    run_sync(site.database, full=True)
    items, pages = site.read_all(C1, 2)
    assert [len(page) for page in pages] == [2, 2, 2, 2, 2, 1]
    assert keys(items) == COMPANY_1_ROWS
    assert {site.last_details(C1)["mode"]} == {"full"}


def test_every_page_of_an_incremental_load_is_served(site):
    """B3, incremental: the plugin's first page consumed the whole change set."""
    site.write(1, [progress_row(1000 + n, 101) for n in range(8)])
    site.read_all(C1, 3)
    site.age_sessions(C1, 3600)
    site.write(1, [progress_row(1000 + n, 101, tag="new") for n in (1, 3, 4, 6, 7)])
    items, pages = site.read_all(C1, 2)
    assert site.last_details(C1)["mode"] == "incremental"
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [item["userid"] for item in items] == [1001, 1003, 1004, 1006, 1007]


def test_two_tokens_of_the_same_company_keep_separate_read_state(site):
    """B4: the plugin keys read state by sha256 of an absent Authorization header, so every client of a
    company shares one watermark: the second client's first load is an empty delta."""
    site.write(1, [progress_row(1000 + n, 101) for n in range(5)])
    first, _ = site.read_all(C1, 2)
    second, _ = site.read_all(C1B, 2)
    same_user, _ = site.read_all(C1C, 2)  # another token of the same user is another client too
    assert keys(first) == keys(second) == keys(same_user) == [(1000 + n, 101) for n in range(5)]
    for token in (C1, C1B, C1C):
        assert site.sessions(token)[-1]["mode"] == "full"
    hashes = {row["token_hash"] for row in site.rows("local_alx_api_sync_status", companyid=1)}
    assert hashes == {token_hash(C1), token_hash(C1B), token_hash(C1C)}
    assert EMPTY_TOKEN_HASH not in hashes


def test_read_state_follows_the_wstoken_never_the_authorization_header(site):
    """B4: an ``Authorization: Bearer`` value is neither validated nor used as the client's identity."""
    site.write(1, [progress_row(1000 + n, 101) for n in range(3)])
    site.read_all(C1, 10)
    site.age_sessions(C1, 3600)
    site.write(1, [progress_row(1001, 101, tag="new")])
    bearer = {"Authorization": "Bearer something-else"}
    assert [item["userid"] for item in site.page(C1, 10, headers=bearer)] == [1001]  # C1's own delta
    assert site.last_details(C1)["mode"] == "incremental"
    hashes = {row["token_hash"] for row in site.rows("local_alx_api_sync_status")}
    assert hashes == {token_hash(C1)}


def test_deletions_reach_incremental_clients(site, changes):
    """B5: the plugin's incremental answers leave soft-deleted rows out, so clients never learn of removals.
    The bridge serves the next session in full when its window holds a tombstone."""
    run_sync(site.database, full=True)
    view = {item_key(item): item for item in site.read_all(C1, 4)[0]}
    assert (12, 102) in view
    changes.update("user_enrolments", {"id": 9}, status=1)  # u12's enrolment in course 102 is suspended
    result = run_sync(site.database, full=True)
    assert result.deleted == 1
    site.age_sessions(C1, 3600)
    served, _ = site.read_all(C1, 4)
    assert site.sessions(C1)[-1]["mode"] == "full"
    view = {item_key(item): item for item in served}  # a full session replaces the client's view
    assert (12, 102) not in view
    assert sorted(view) == [key for key in COMPANY_1_ROWS if key != (12, 102)]


def test_sync_mode_disabled_serves_full_data_and_records_no_sync_status(site):
    """B7: the plugin compares "3" !== 3, so Disabled still writes sync status."""
    site.company_setting(1, "sync_mode", 3)
    site.write(1, [progress_row(1000 + n, 101) for n in range(4)])
    first, _ = site.read_all(C1, 3)
    site.age_sessions(C1, 3600)
    site.write(1, [progress_row(1002, 101, tag="new")])
    second, _ = site.read_all(C1, 3)
    assert keys(first) == keys(second) == [(1000 + n, 101) for n in range(4)]
    assert {session["mode"] for session in site.sessions(C1)} == {"full"}
    assert site.rows("local_alx_api_sync_status") == []


def test_one_sync_status_update_per_request(site):
    """B8: an empty normal answer updated the plugin's sync status twice (total_syncs += 2)."""
    site.write(1, [progress_row(1000 + n, 101) for n in range(4)])
    seen = []
    for offset in (0, 2, 4, 4):  # two full pages, then the empty page that ends the session, then again
        site.page(C1, 2, offset)
        status = site.sync_status(C1)
        seen.append((status["total_syncs"], status["last_sync_records"], status["last_sync_status"]))
    assert seen == [(1, 2, "success"), (2, 2, "success"), (3, 0, "success"), (4, 0, "success")]
    site.write(3, [])  # a company with a committed version but no rows: [] once, one update
    assert site.page(C3) == []
    assert site.sync_status(C3)["total_syncs"] == 1


def test_a_live_answer_records_the_sync(site):
    """B9: a non-empty live (fallback) answer never recorded a sync, so every call stayed a "first sync"."""
    assert len(site.page(C1)) == 11
    status = site.sync_status(C1)
    assert (status["last_sync_records"], status["last_sync_status"], status["total_syncs"]) == (11, "success", 1)
    assert site.last_details(C1)["mode"] == "live"
    site.page(C1, 5)
    assert (site.sync_status(C1)["total_syncs"], site.sync_status(C1)["last_sync_records"]) == (2, 5)


@pytest.mark.parametrize("limit", [0, -3])
def test_limit_of_zero_or_less_never_returns_every_row(site, limit):
    """B23: the plugin answers limit <= 0 with every row, bypassing max_records."""
    site.config("max_records", 3)
    site.write(1, [progress_row(1000 + n, 101) for n in range(5)])
    body = site.error(C1, limit)
    assert (body["exception"], body["errorcode"]) == ("moodle_exception", "invalidlimit")
    assert site.sessions(C1) == []


def test_settings_changes_take_effect_at_once(site):
    """B34: the plugin's cache key ignores the field and course settings, so changes wait for the TTL.
    Here the very next call shows them, with the cache on and inside the replay window."""
    site.write(1, [progress_row(1000, 101), progress_row(1001, 102), progress_row(1002, 104)])
    site.page(C1)
    assert len(site.page(C1)) == 3
    assert site.last_details(C1)["cache_hit"] is True
    site.company_setting(1, "field_email", 0)
    items = site.page(C1)
    assert len(items) == 3
    assert all("email" not in item for item in items)
    site.company_setting(1, "course_101", 1)  # from now on only course 101 is enabled
    site.company_setting(1, "course_102", 0)
    assert [item["courseid"] for item in site.page(C1)] == [101]
    site.company_setting(1, "field_email", 1)
    site.company_setting(1, "course_104", 1)
    items = site.page(C1)
    assert [(item["courseid"], "email" in item) for item in items] == [(101, True), (104, True)]
    assert json.loads(site.logs(userid=10)[-1]["additional_data"])["mode"] == "full"


def test_a_disabled_course_never_comes_back_from_the_cache(site):
    """B34 with the cache: a session opened before a course was disabled keeps its own rows, and what it
    reads is never served to a session opened afterwards."""
    site.write(1, [progress_row(1000 + n, 101) for n in range(4)] + [progress_row(1004, 102), progress_row(1005, 102)])
    assert len(site.page(C1, 2, 0) + site.page(C1, 2, 2)) == 4  # C1's session started with both courses
    site.company_setting(1, "course_101", 1)  # course 102 is disabled from now on
    assert [item["courseid"] for item in site.page(C1, 2, 4)] == [102, 102]  # C1 finishes its own session
    later, _ = site.read_all(C1B, 2)  # a session opened after the change, same window and page positions
    assert [item["courseid"] for item in later] == [101, 101, 101, 101]
