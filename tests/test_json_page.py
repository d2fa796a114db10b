"""The direct JSON writer of progress pages gives exactly the bytes of the reference path
(item → clean against the return description → PHP's json_encode), for any rows and field set."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import given, settings
from hypothesis import strategies as st

from alxbridge.moodle.plugin_settings import FIELD_NAMES
from alxbridge.reporting.contract import RETURNS
from alxbridge.reporting.formatting import api_item, plugin_date
from alxbridge.reporting.json_page import encode_page as encode_rows
from alxbridge.reporting.pages import REPORTING_COLUMNS
from alxbridge.webservice.descriptions import clean_returnvalue
from alxbridge.webservice.rendering import result_body

ZONES = sorted(available_timezones())
texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["O'Brien", "Anaïs/Ångström", "a < b", "<b>bold</b>", "x\x7fy", "emoji 😀", "", "back\\slash"]),
    st.none(),
)
emails = st.one_of(
    st.sampled_from(["learner@example.org", "", "not an email", "a@b", "<x@example.org>", "x/y@example.org"]),
    st.emails().map(str),
    st.none(),
)
timestamps = st.one_of(st.integers(-5, 4_102_444_800), st.just(0), st.none(), st.sampled_from([True, 1.5]))
percentages = st.one_of(
    st.decimals(min_value=-1, max_value=100, places=2, allow_nan=False),
    st.floats(min_value=0, max_value=100, allow_nan=False),
    st.sampled_from([Decimal("100.00"), Decimal("-0.00"), Decimal("66.665"), 0, None]),
)
row_values = st.fixed_dictionaries({
    "id": st.integers(1, 10**9),
    "userid": st.one_of(st.integers(1, 10**9), st.sampled_from(["12", None, True])),
    "courseid": st.one_of(st.integers(1, 10**6), st.sampled_from(["7", None])),
    "firstname": texts, "lastname": texts, "email": emails, "coursename": texts,
    "timecompleted": timestamps, "timestarted": timestamps, "percentage": percentages,
    "status": st.one_of(st.sampled_from(["completed", "in_progress", "not_started", "not_enrolled"]), texts),
})  # fmt: skip
rows = row_values.map(lambda values: tuple(values[name] for name in REPORTING_COLUMNS))
field_sets = st.sets(st.sampled_from(FIELD_NAMES)).map(lambda chosen: tuple(n for n in FIELD_NAMES if n in chosen))


def encode_page(rows, fields, timezone, render):
    """The body alone (the writer also returns the count and the last id, checked below)."""
    count, last_id, body = encode_rows(rows, fields, timezone, render)
    assert (count, last_id) == (len(rows), rows[-1][0] if rows else None)
    return body


def reference(items):
    return result_body(clean_returnvalue(RETURNS, items), RETURNS, "json")


@settings(max_examples=400, deadline=None)
@given(st.lists(rows, max_size=8), field_sets, st.sampled_from(ZONES))
def test_direct_json_is_byte_for_byte_the_reference_path(page_rows, fields, zone):
    timezone = ZoneInfo(zone)
    try:
        expected = reference([api_item(row, fields, timezone) for row in page_rows])
    except Exception as error:  # a row the reference path refuses: the direct path refuses it alike
        try:
            encode_page(page_rows, fields, timezone, reference)
        except type(error):
            return
        raise AssertionError("the direct path accepted a page the reference path refused") from error
    assert encode_page(page_rows, fields, timezone, reference) == expected


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 4_102_444_800), st.sampled_from(ZONES))
def test_plugin_dates_match_the_zone_database_on_transition_days_too(timestamp, zone):
    timezone = ZoneInfo(zone)
    assert plugin_date(timestamp, timezone) == datetime.fromtimestamp(timestamp, timezone).strftime("%Y-%m-%d %H:%M:%S")


def test_a_daylight_saving_change_is_written_in_the_offset_of_each_side():
    london = ZoneInfo("Europe/London")
    change = 1711846800  # 2024-03-31 01:00 UTC: clocks go from 01:00 GMT to 02:00 BST
    assert plugin_date(change - 1, london) == "2024-03-31 00:59:59"
    assert plugin_date(change, london) == "2024-03-31 02:00:00"


def test_an_empty_page_is_an_empty_json_list():
    assert encode_page([], FIELD_NAMES, ZoneInfo("UTC"), reference) == "[]"


def test_equal_percentages_with_different_spellings_keep_their_own_spelling():
    """``Decimal("-0.00") == 0``: a memo keyed by value would write the first one's spelling for both."""
    page_rows = [(n, 7, 3, "Ann", "Lee", "", "Course", 0, 0, value, "not_started") for n, value in
                 enumerate((Decimal("-0.00"), 0, Decimal("100.00"), 100.0), 1)]  # fmt: skip
    timezone = ZoneInfo("UTC")
    expected = reference([api_item(row, FIELD_NAMES, timezone) for row in page_rows])
    assert '"percentage":-0' in expected and '"percentage":0,' in expected
    assert encode_page(page_rows, FIELD_NAMES, timezone, reference) == expected
