"""Read sessions (design §2): what ``offset=0`` … short last page means for one token.

Reporting rows and committed versions are written directly, as the sync engine commits them; time
is moved by ageing the token's session rows (sessions use the wall clock). A client's view is
merged as a client would: a full session replaces it, an incremental one is upserted into it.
"""

import pytest

from alxbridge.reporting import json_page
from alxbridge.reporting import sessions as reading
from alxbridge.reporting.formatting import plugin_date

from ..progress_support import C1, item_key, progress_row, token_hash

REUSE, IDLE, REPLAY_GRACE = reading.REUSE_SECONDS, reading.IDLE_SECONDS, reading.REPLAY_GRACE_SECONDS


def rows(*userids, tag="v0", courseid=101):
    return [progress_row(userid, courseid, tag=tag) for userid in userids]


def users(items):
    return [item["userid"] for item in items]


def tags(items):
    return {item["userid"]: item["firstname"].split("-")[1] for item in items}


def later(site, token=C1):
    """Make the next offset=0 a new session: the token's sessions are older than the replay window."""
    site.age_sessions(token, REUSE + 60)


def session_of_last_call(site, token=C1):
    details = site.last_details(token)
    return details["session_id"], details["mode"], tuple(details["window"]), details["replayed"]


def test_offset_zero_opens_a_session_for_the_sha256_of_the_token(site):
    version = site.write(1, rows(1000, 1001, 1002))
    site.page(C1, 2)
    (session,) = site.sessions(C1)
    assert session["token_hash"] == token_hash(C1)
    assert (session["companyid"], session["mode"], session["low_version"], session["high_version"]) == (
        1, "full", 0, version,
    )  # fmt: skip
    assert (session["page_limit"], session["status"], session["rows_served"]) == (2, "open", 2)
    assert session["max_id"] == max(row["id"] for row in site.reporting(1).values())


def test_full_session_pages_stay_put_while_rows_change_between_pages(site):
    """Keyset pages: a tombstone behind the cursor never shifts a row out, a new row never shifts one in."""
    site.write(1, rows(*range(1000, 1010)))
    assert users(site.page(C1, 3, 0)) == [1000, 1001, 1002]
    site.write(1, rows(1004, tag="new") + rows(1010), deleted=[(1001, 101), (1007, 101)])
    second = site.page(C1, 3, 3)
    assert users(second) == [1003, 1004, 1005]  # with OFFSET paging 1003 would have been lost
    assert tags(second)[1004] == "new"  # a full session serves current content
    assert users(site.page(C1, 3, 6)) == [1006, 1008, 1009]  # 1007 left meanwhile, 1010 is not in this session
    assert site.page(C1, 3, 9) == []
    assert site.sessions(C1)[-1]["status"] == "completed"
    later(site)
    view, _ = site.read_all(C1, 3)  # the tombstones force the next session to be full
    assert site.sessions(C1)[-1]["mode"] == "full"
    assert users(view) == [1000, 1002, 1003, 1004, 1005, 1006, 1008, 1009, 1010]


def test_incremental_session_pages_stay_put_and_rows_changed_meanwhile_come_next_time(site):
    site.write(1, rows(*range(1000, 1008)))
    site.read_all(C1, 10)
    later(site)
    first_window = site.write(1, rows(*range(1001, 1007), tag="a"))
    assert users(site.page(C1, 2, 0)) == [1001, 1002]
    site.write(1, rows(1003, 1000, tag="b") + rows(1011))
    assert users(site.page(C1, 2, 2)) == [1004, 1005]  # 1003 moved past the window; nothing shifted
    assert users(site.page(C1, 2, 4)) == [1006]
    session = site.sessions(C1)[-1]
    assert (session["mode"], session["high_version"], session["status"]) == ("incremental", first_window, "completed")
    later(site)
    delta, _ = site.read_all(C1, 2)
    assert site.sessions(C1)[-1]["mode"] == "incremental"
    assert sorted(users(delta)) == [1000, 1003, 1011]
    assert set(tags(delta).values()) == {"b", "v0"}


def test_the_acknowledged_version_advances_only_when_a_short_page_ends_the_session(site):
    version = site.write(1, rows(1000, 1001, 1002, 1003))
    site.page(C1, 2, 0)
    site.page(C1, 2, 2)  # a full page: the session goes on
    assert site.sessions(C1)[-1]["status"] == "open"
    later(site)
    site.write(1, rows(1001, tag="x"))
    site.page(C1, 2, 0)
    assert site.sessions(C1)[-1]["mode"] == "full"  # nothing was acknowledged
    assert users(site.page(C1, 2, 2)) == [1002, 1003]
    assert site.page(C1, 2, 4) == []  # the empty page after an exact multiple ends it
    ended = site.sessions(C1)[-1]
    assert (ended["status"], ended["timeclosed"] > 0) == ("completed", True)
    later(site)
    newest = site.write(1, rows(1002, tag="y"))
    assert users(site.page(C1, 2, 0)) == [1002]
    session = site.sessions(C1)[-1]
    assert (session["mode"], session["low_version"], session["high_version"]) == (
        "incremental", ended["high_version"], newest,
    )  # fmt: skip
    assert ended["high_version"] > version


def test_a_repeated_offset_zero_with_the_same_limit_replays_the_open_session(site):
    site.write(1, rows(*range(1000, 1005)))
    first = site.page(C1, 2, 0)
    opened = session_of_last_call(site)
    site.clock.advance(REUSE - 1)
    again = site.page(C1, 2, 0)
    assert again == first
    assert session_of_last_call(site)[:3] == opened[:3]
    assert session_of_last_call(site)[3] is True
    assert users(site.read_all(C1, 2, start_offset=2)[0]) == [1002, 1003, 1004]
    assert len(site.sessions(C1)) == 1


def test_a_version_committed_since_the_first_evaluation_is_not_hidden_from_a_poller(site):
    """A client polling every few seconds sees a new version at once: a full session gives way to a fresher one."""
    site.write(1, rows(*range(1000, 1005)))
    site.page(C1, 2, 0)
    opened = session_of_last_call(site)
    site.clock.advance(5)
    site.write(1, rows(1005))
    items, _ = site.read_all(C1, 2)
    assert session_of_last_call(site)[0] != opened[0] and session_of_last_call(site)[1] == "full"
    assert users(items) == list(range(1000, 1006))


def test_an_incremental_session_is_replayed_seconds_after_a_newer_version_then_gives_way(site):
    """The evaluations of one refresh come seconds apart: the second gets the first's rows, not the delta between
    them; a poller a little later gets the newer version."""
    site.write(1, rows(*range(1000, 1005)))
    site.read_all(C1, 10)
    later(site)
    site.write(1, rows(1001, tag="new"))
    first, _ = site.read_all(C1, 10)
    session = session_of_last_call(site)
    assert (users(first), session[1]) == ([1001], "incremental")
    site.write(1, rows(1002, tag="new"))
    site.clock.advance(REPLAY_GRACE)
    assert site.read_all(C1, 10)[0] == first and session_of_last_call(site)[:3] == session[:3]
    site.clock.advance(1)
    newer, _ = site.read_all(C1, 10)
    assert users(newer) == [1002] and session_of_last_call(site)[0] != session[0]


def test_a_second_evaluation_after_completion_sees_the_same_rows_not_an_empty_delta(site):
    """Power BI evaluates a query twice; the second run must not be an (empty) incremental answer."""
    site.write(1, rows(*range(1000, 1005)))
    site.read_all(C1, 10)
    later(site)
    site.write(1, rows(1001, 1003, tag="new"))
    first, _ = site.read_all(C1, 10)
    session = session_of_last_call(site)
    assert (users(first), session[1]) == ([1001, 1003], "incremental")
    second, _ = site.read_all(C1, 10)
    assert second == first
    assert session_of_last_call(site)[:3] == session[:3]
    assert len(site.sessions(C1)) == 2


def test_a_second_evaluation_right_after_a_long_load_still_replays(site):
    """The replay window counts from the end of the load: a load longer than it must not turn the second
    evaluation into an empty delta."""
    site.write(1, rows(*range(1000, 1004)))
    site.page(C1, 2, 0)
    site.age_sessions(C1, REUSE + 120)  # the load has been running for more than the replay window ...
    site.page(C1, 2, 2)
    site.page(C1, 2, 4)  # ... and ends now
    replay, _ = site.read_all(C1, 2)
    assert users(replay) == [1000, 1001, 1002, 1003]
    assert len(site.sessions(C1)) == 1


def test_another_limit_opens_another_session_of_the_same_token(site):
    """The limit tells a replay from a new request; the read state itself belongs to the token."""
    site.write(1, rows(*range(1000, 1005)))
    site.read_all(C1, 10)
    site.write(1, rows(1003, tag="new"))
    assert users(site.read_all(C1, 2)[0]) == [1003]
    assert [(s["page_limit"], s["mode"]) for s in site.sessions(C1)] == [(10, "full"), (2, "incremental")]


def test_a_completed_session_is_not_replayed_once_the_window_has_passed(site):
    site.write(1, rows(1000, 1001))
    site.read_all(C1, 10)
    later(site)
    assert site.page(C1, 10) == []  # an incremental session with nothing new
    assert site.sessions(C1)[-1]["mode"] == "incremental"


def test_abandoned_sessions_never_advance_anything(site):
    site.write(1, rows(*range(1000, 1006)))
    site.page(C1, 2, 0)  # a full session abandoned after one page
    site.age_sessions(C1, IDLE + 60)
    assert users(site.read_all(C1, 2)[0]) == list(range(1000, 1006))
    assert site.sessions(C1)[-1]["mode"] == "full"
    acknowledged = site.sessions(C1)[-1]["high_version"]
    later(site)
    site.write(1, rows(1001, 1004, tag="a"))
    assert users(site.page(C1, 1, 0)) == [1001]  # an incremental session abandoned after one page
    site.age_sessions(C1, IDLE + 60)
    site.write(1, rows(1002, tag="b"))
    delta, _ = site.read_all(C1, 1)
    session = site.sessions(C1)[-1]
    assert (session["mode"], session["low_version"]) == ("incremental", acknowledged)
    assert users(delta) == [1001, 1002, 1004]
    assert [s["status"] for s in site.sessions(C1)] == ["open", "completed", "open", "completed"]


def test_a_page_the_session_never_reached_does_not_acknowledge_anything(site):
    """A client that resumes at offset > 0 after its session went idle gets a page of a new session;
    that session cannot end with an acknowledgement, or the rows before the offset would be lost."""
    site.write(1, rows(*range(1000, 1006)))
    site.read_all(C1, 10)
    later(site)
    site.write(1, rows(1002, 1003, 1004, tag="a"))
    assert users(site.page(C1, 2, 0)) == [1002, 1003]
    site.age_sessions(C1, IDLE + 60)
    site.write(1, rows(1000, tag="b"))  # a change with a lower id than every row served so far
    resumed = site.page(C1, 2, 2)
    resumed += site.page(C1, 2, 2 + len(resumed))
    site.age_sessions(C1, IDLE + 60)
    delta, _ = site.read_all(C1, 10)
    assert 1000 in users(delta), "the change to 1000 was never served"
    assert site.sessions(C1)[-1]["low_version"] == site.sessions(C1)[0]["high_version"]


def test_skipping_pages_does_not_acknowledge_the_skipped_rows(site):
    site.write(1, rows(*range(1000, 1006)))
    site.page(C1, 2, 0)
    assert users(site.page(C1, 2, 4)) == [1004, 1005]
    assert site.page(C1, 2, 6) == []  # short, but pages 2-3 were never served
    assert site.sessions(C1)[-1]["status"] == "open"
    site.page(C1, 2, 2)
    later(site)
    site.page(C1, 2, 0)
    assert site.sessions(C1)[-1]["mode"] == "full"


def test_auto_mode_is_full_on_the_first_call_then_incremental(site):
    site.write(1, rows(1000, 1001))
    site.read_all(C1, 10)
    later(site)
    site.write(1, rows(1001, tag="a"))
    site.read_all(C1, 10)
    assert [s["mode"] for s in site.sessions(C1)] == ["full", "incremental"]


def test_auto_mode_is_full_after_a_failed_sync(site):
    """The failed status is written here as the PHP plugin writes it; the bridge itself never records one."""
    site.write(1, rows(1000, 1001))
    site.read_all(C1, 10)
    later(site)
    with site.database.begin() as connection:
        status = site.tables.local_alx_api_sync_status
        connection.execute(
            status.update()
            .where(status.c.token_hash == token_hash(C1))
            .values(last_sync_status="failed", last_sync_error="Error reading from database")
        )
    assert users(site.read_all(C1, 10)[0]) == [1000, 1001]
    assert site.sessions(C1)[-1]["mode"] == "full"
    assert site.sync_status(C1)["last_sync_status"] == "success"
    later(site)
    assert site.read_all(C1, 10)[0] == []
    assert site.sessions(C1)[-1]["mode"] == "incremental"


@pytest.mark.parametrize(("gap", "mode"), [(3600 - 120, "incremental"), (3600 + 120, "full")])
def test_auto_mode_is_full_when_the_gap_exceeds_the_sync_window(site, gap, mode):
    site.company_setting(1, "sync_window_hours", 1)
    site.write(1, rows(1000, 1001))
    site.read_all(C1, 10)
    site.age_sessions(C1, gap)
    site.write(1, rows(1001, tag="a"))
    assert len(site.read_all(C1, 10)[0]) == (1 if mode == "incremental" else 2)
    assert site.sessions(C1)[-1]["mode"] == mode


def test_incremental_mode_stays_incremental_after_gaps_and_failures_but_not_after_deletions(site):
    site.company_setting(1, "sync_mode", 1)
    site.company_setting(1, "sync_window_hours", 1)
    site.write(1, rows(1000, 1001, 1002))
    site.read_all(C1, 10)
    assert site.sessions(C1)[-1]["mode"] == "full"  # nothing acknowledged yet: everything
    site.age_sessions(C1, 3 * 3600)
    with site.database.begin() as connection:
        status = site.tables.local_alx_api_sync_status
        connection.execute(status.update().values(last_sync_status="failed"))
    site.write(1, rows(1001, tag="a"))
    assert users(site.read_all(C1, 10)[0]) == [1001]
    assert site.sessions(C1)[-1]["mode"] == "incremental"
    later(site)
    site.write(1, deleted=[(1002, 101)])
    assert users(site.read_all(C1, 10)[0]) == [1000, 1001]
    assert site.sessions(C1)[-1]["mode"] == "full"


def test_full_mode_is_always_full(site):
    site.company_setting(1, "sync_mode", 2)
    site.write(1, rows(1000, 1001))
    for _ in range(2):
        assert users(site.read_all(C1, 10)[0]) == [1000, 1001]
        later(site)
    assert [s["mode"] for s in site.sessions(C1)] == ["full", "full"]
    assert site.sync_status(C1)["total_syncs"] == 2


def test_an_acknowledgement_below_the_tombstone_horizon_goes_full(site):
    site.write(1, rows(1000, 1001, 1002))
    site.read_all(C1, 10)
    later(site)
    deleted_at = site.write(1, deleted=[(1001, 101)])
    site.purge_tombstones(1, deleted_at)  # retention removed the tombstone the client never saw
    site.write(1, rows(1002, tag="a"))
    assert users(site.read_all(C1, 10)[0]) == [1000, 1002]
    assert site.sessions(C1)[-1]["mode"] == "full"


def test_a_settings_change_makes_the_next_session_full(site):
    site.write(1, rows(1000, 1001) + rows(1002, courseid=102))
    site.read_all(C1, 10)
    later(site)
    site.company_setting(1, "course_101", 1)
    assert users(site.read_all(C1, 10)[0]) == [1000, 1001]
    assert site.sessions(C1)[-1]["mode"] == "full"
    later(site)
    site.company_setting(1, "course_102", 1)
    assert sorted(item_key(item) for item in site.read_all(C1, 10)[0]) == [(1000, 101), (1001, 101), (1002, 102)]
    assert site.sessions(C1)[-1]["mode"] == "full"


def test_a_page_whose_encoding_fails_half_way_still_logs_the_call_and_the_next_call_works(site, monkeypatch):
    """Pages are streamed from the database into the JSON writer. A failure after a few rows must close the
    streamed cursor: on MariaDB an unread result would refuse the rollback and the log row ("Commands out of
    sync"), losing the record of the failed call."""
    site.write(1, rows(*range(1000, 1040)))
    written = []

    def failing_date(timestamp, timezone):
        written.append(timestamp)
        if len(written) > 10:
            raise RuntimeError("formatting failed half-way")
        return plugin_date(timestamp, timezone)

    monkeypatch.setattr(json_page, "plugin_date", failing_date)
    error = site.error(C1, limit=40)
    assert error["errorcode"] == "generalexceptionmessage", error
    monkeypatch.undo()
    (failed,) = [row for row in site.logs() if row["error_message"]]
    assert failed["error_message"] == "Error reading from database"
    assert users(site.page(C1, limit=40)) == list(range(1000, 1040))
