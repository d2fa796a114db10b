"""``export_data.php``'s report — summary, companies, API tokens, reporting rows — as CSV, JSON or XLSX.

The plugin's sections and 14 reporting columns, with its bugs fixed:

* every matching row in one file: reporting rows are read in keyset chunks of :data:`CHUNK` ids
  (newest first, as the plugin's ``created_at DESC``) and written as they come, so an export of
  any size holds one chunk in memory (the plugin paged by 1000 rows per download);
* the time range selects rows created *or changed* in it (``updated_at``): the plugin's
  ``created_at`` missed a learner who completed a course yesterday on a row created last month;
* deleted rows (``is_deleted = 1``) only on request, with a Deleted column then;
* tokens only of the plugin's service, shown as their first 8 characters, and with a company
  filter only those of the company's users (S9: the plugin listed every token of the site);
* CSV values that a spreadsheet would run as a formula get an apostrophe before the formula, also
  where a spreadsheet splitting on ``;`` or a tab (as Excel does in many locales) would start a
  cell inside the value; the XLSX cells are typed text, which never runs;
* dates are the site timezone's ``Y-m-d H:i:s``; IOMAD's ``company`` has no ``timecreated``,
  so the companies section has no Created column (the plugin printed 1970-01-01).
"""

import csv
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass

import sqlalchemy as sa
import xlsxwriter

from ..metrics.limits import all_companies
from ..moodle.tokens import SERVICE_SHORTNAMES, mask, plugin_service
from ..reporting.formatting import plugin_date

TIME_RANGES = {
    "1h": ("Last Hour", 3600),
    "24h": ("Last 24 Hours", 86400),
    "7d": ("Last 7 Days", 7 * 86400),
    "30d": ("Last 30 Days", 30 * 86400),
    "all": ("All Time", None),
}
STATUSES = {"completed": "Completed", "in_progress": "In progress", "not_started": "Not started"}
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CHUNK = 1000  # reporting rows per query
FLUSH_CHARS = 64 * 1024  # text handed to the server at a time
FILE_CHUNK = 64 * 1024  # bytes of the XLSX file per response chunk
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")  # OWASP's list: a value starting so may run
# A cell a spreadsheet may start inside a value: after a separator it may split on, then blanks, then a formula.
FORMULA_AFTER_SEPARATOR = re.compile(r"([,;\t])(\s*)(?=[=+\-@])")
REPORT_COLUMNS = (
    ("id", "ID"),
    ("userid", "User ID"),
    ("companyid", "Company ID"),
    ("courseid", "Course ID"),
    ("firstname", "First Name"),
    ("lastname", "Last Name"),
    ("email", "Email"),
    ("coursename", "Course Name"),
    ("timecompleted", "Time Completed"),
    ("timestarted", "Time Started"),
    ("percentage", "Percentage"),
    ("status", "Status"),
    ("created_at", "Created At"),
    ("updated_at", "Updated At"),
)
DELETED_COLUMN = ("is_deleted", "Deleted")
COMPANY_COLUMNS = (("id", "ID"), ("name", "Name"), ("shortname", "Shortname"))
TOKEN_COLUMNS = (
    ("id", "ID"),
    ("token", "Token (Partial)"),
    ("userid", "User ID"),
    ("externalserviceid", "Service ID"),
    ("timecreated", "Created"),
)


class ExportError(ValueError):
    """The export options are not valid; ``messages`` says why, without repeating the input."""

    def __init__(self, messages):
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class ExportFilter:
    companyid: int = 0  # 0 = every company
    timerange: str = "24h"
    status: str = ""  # "" = any status
    include_deleted: bool = False

    @property
    def time_label(self):
        return TIME_RANGES[self.timerange][0]

    def since(self, now):
        seconds = TIME_RANGES[self.timerange][1]
        return None if seconds is None else now - seconds


def parse_filter(args):
    """The :class:`ExportFilter` of a request's query ``args``; :class:`ExportError` lists what is wrong."""
    errors = []
    raw_company = (args.get("companyid") or "0").strip()
    companyid = int(raw_company) if raw_company.isdigit() else 0
    if not raw_company.isdigit():
        errors.append("Company must be a company of the list (or all companies).")
    timerange = args.get("timerange") or "24h"
    if timerange not in TIME_RANGES:
        errors.append(f"Time range must be one of {', '.join(TIME_RANGES)}.")
    status = args.get("status") or ""
    if status and status not in STATUSES:
        errors.append(f"Status must be one of {', '.join(STATUSES)} (or any status).")
    if errors:
        raise ExportError(errors)
    return ExportFilter(companyid, timerange, status, args.get("include_deleted") == "1")


def format_of(args):
    """``None`` for the options page, else a format of :data:`FORMATS`; :class:`ExportError` otherwise."""
    chosen = args.get("format")
    if chosen is None or chosen == "":
        return None
    if chosen not in FORMATS:
        raise ExportError([f"Format must be one of {', '.join(FORMATS)}."])
    return chosen


def filename(extension, moment):
    return f"alx_api_report_{moment.local(moment.now).strftime('%Y-%m-%d_%H-%M-%S')}.{extension}"


@dataclass(frozen=True)
class Report:
    """Everything but the reporting rows, which :func:`report_rows` streams."""

    export_filter: ExportFilter
    export_time: str
    company_name: str | None
    companies: list  # dicts in COMPANY_COLUMNS order
    tokens: list  # dicts in TOKEN_COLUMNS order
    service: object  # the plugin's service row, or None
    total_rows: int

    @property
    def service_status(self):
        if self.service is None:
            return "Not found"
        return "Active" if self.service.enabled else "Disabled"

    @property
    def columns(self):
        return REPORT_COLUMNS + ((DELETED_COLUMN,) if self.export_filter.include_deleted else ())

    def summary(self):
        """``(label, key, value)`` triples: CSV shows the labels, JSON the keys."""
        f = self.export_filter
        company = f"Company ID: {f.companyid} ({self.company_name})" if f.companyid else "All Companies"
        return (
            ("Export Time", "export_time", self.export_time),
            ("Time Range", "time_range", f.time_label),
            ("Company Filter", "company_filter", company),
            ("Status Filter", "status_filter", STATUSES.get(f.status, "Any status")),
            ("Include Deleted Rows", "include_deleted", f.include_deleted),
            ("Total Matching Records", "total_matching_records", self.total_rows),
            ("Total Companies", "total_companies", len(self.companies)),
            ("Total Tokens", "total_tokens", len(self.tokens)),
            ("API Service Status", "api_service_status", self.service_status),
            ("API Service ID", "api_service_id", self.service.id if self.service else "N/A"),
        )


def _row_conditions(tables, export_filter, now):
    reporting = tables.local_alx_api_reporting
    conditions = []
    since = export_filter.since(now)
    if since is not None:
        conditions.append(reporting.c.updated_at >= since)
    if export_filter.companyid:
        conditions.append(reporting.c.companyid == export_filter.companyid)
    if export_filter.status:
        conditions.append(reporting.c.status == export_filter.status)
    if not export_filter.include_deleted:
        conditions.append(reporting.c.is_deleted == 0)
    return conditions


def matching_row_count(connection, tables, export_filter, now):
    reporting = tables.local_alx_api_reporting
    query = sa.select(sa.func.count()).select_from(reporting).where(*_row_conditions(tables, export_filter, now))
    return connection.execute(query).scalar()


def _tokens(connection, tables, companyid, timezone):
    tokens, services, members = tables.external_tokens, tables.external_services, tables.company_users
    query = (
        sa.select(tokens.c.id, tokens.c.token, tokens.c.userid, tokens.c.externalserviceid, tokens.c.timecreated)
        .join(services, services.c.id == tokens.c.externalserviceid)
        .where(services.c.shortname.in_(SERVICE_SHORTNAMES))
        .order_by(tokens.c.id)
    )
    if companyid:
        query = query.where(sa.exists().where(members.c.userid == tokens.c.userid, members.c.companyid == companyid))
    return [
        {"id": row.id, "token": mask(row.token), "userid": row.userid,
         "externalserviceid": row.externalserviceid, "timecreated": plugin_date(row.timecreated, timezone)}
        for row in connection.execute(query)
    ]  # fmt: skip


def company_name(connection, tables, companyid):
    """The company's name, or ``None`` when there is no such company."""
    company = tables.company
    return connection.execute(sa.select(company.c.name).where(company.c.id == companyid)).scalar()


def prepare_report(connection, tables, export_filter, moment):
    """The small sections and the row count; raises :class:`ExportError` for an unknown company."""
    name = None
    if export_filter.companyid:
        name = company_name(connection, tables, export_filter.companyid)
        if name is None:
            raise ExportError([f"There is no company with ID {export_filter.companyid}."])
    companies = [
        {"id": c.id, "name": c.name, "shortname": c.shortname}
        for c in all_companies(connection, tables)
        if not export_filter.companyid or c.id == export_filter.companyid
    ]
    return Report(
        export_filter=export_filter,
        export_time=plugin_date(moment.now, moment.timezone),
        company_name=name,
        companies=companies,
        tokens=_tokens(connection, tables, export_filter.companyid, moment.timezone),
        service=plugin_service(connection, tables),
        total_rows=matching_row_count(connection, tables, export_filter, moment.now),
    )


def report_rows(connection, tables, export_filter, moment, chunk=CHUNK):
    """The matching reporting rows as dicts in the report's column order, newest first, ``chunk`` per query."""
    reporting = tables.local_alx_api_reporting
    zone = moment.timezone
    names = [name for name, _ in REPORT_COLUMNS] + (["is_deleted"] if export_filter.include_deleted else [])
    query = (
        sa.select(*(reporting.c[name] for name in names))
        .where(*_row_conditions(tables, export_filter, moment.now))
        .order_by(reporting.c.id.desc())
        .limit(chunk)
    )
    last_id = None
    while True:
        rows = connection.execute(query if last_id is None else query.where(reporting.c.id < last_id)).all()
        for row in rows:
            item = dict(row._mapping)
            item["timecompleted"] = plugin_date(row.timecompleted, zone) or "Not completed"
            item["timestarted"] = plugin_date(row.timestarted, zone) or "Not started"
            item["percentage"] = float(row.percentage or 0)
            item["created_at"] = plugin_date(row.created_at, zone)
            item["updated_at"] = plugin_date(row.updated_at, zone)
            if export_filter.include_deleted:
                item["is_deleted"] = bool(row.is_deleted)
            yield item
        if len(rows) < chunk:
            return
        last_id = rows[-1].id


def _sections(report, rows):
    """The report as titled tables: ``(title, headers, records)``; the last one streams ``rows``."""
    yield "ALX API Report Summary", None, ((label, value) for label, _, value in report.summary())
    yield "Companies", COMPANY_COLUMNS, report.companies
    yield "API Tokens", TOKEN_COLUMNS, report.tokens
    yield f"Reporting Data ({report.export_filter.time_label})", report.columns, rows


def neutralise(value):
    """A CSV cell a spreadsheet shows as text: strings starting like a formula get a leading apostrophe."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, str):
        value = FORMULA_AFTER_SEPARATOR.sub(r"\1\2'", value)
        return "'" + value if value.startswith(FORMULA_TRIGGERS) else value
    return value


def csv_chunks(report, rows):
    """The CSV as text chunks: a UTF-8 byte order mark (so Excel reads accents), then the plugin's sections."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    for number, (title, columns, records) in enumerate(_sections(report, rows)):
        if number:
            writer.writerow([])
        writer.writerow([title])
        if columns:
            writer.writerow([label for _, label in columns])
        for record in records:
            values = record if columns is None else [record[name] for name, _ in columns]
            writer.writerow([neutralise(value) for value in values])
            if buffer.tell() >= FLUSH_CHARS:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


def json_chunks(report, rows):
    """The plugin's pretty-printed ``{summary, companies, tokens, reporting_data}``, one reporting row a line."""
    head = json.dumps(
        {
            "summary": {key: value for _, key, value in report.summary()},
            "companies": report.companies,
            "tokens": report.tokens,
            "reporting_data": [],
        },
        indent=4,
        ensure_ascii=False,
    )
    yield head[: -len("]\n}")]
    separator = "\n        "
    pending = []
    for row in rows:
        pending.append(separator + json.dumps(row, ensure_ascii=False))
        separator = ",\n        "
        if len(pending) >= CHUNK:
            yield "".join(pending)
            pending = []
    yield "".join(pending) + ("\n    ]\n}\n" if separator.startswith(",") else "]\n}\n")


def _write_cell(sheet, row, column, value):
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_string(row, column, "Yes" if value else "No")
    elif isinstance(value, (int, float)):
        sheet.write_number(row, column, value)
    else:
        sheet.write_string(row, column, str(value))


def write_xlsx(path, report, rows):
    """One sheet per section, written row by row (``constant_memory``): memory stays flat for any size."""
    workbook = xlsxwriter.Workbook(
        path,
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
         "strings_to_numbers": False, "tmpdir": os.path.dirname(path)},
    )  # fmt: skip
    bold = workbook.add_format({"bold": True})
    try:
        for title, columns, records in _sections(report, rows):
            sheet = workbook.add_worksheet(title.split(" (")[0][:31])
            sheet.write_string(0, 0, title, bold)
            start = 1
            if columns:
                for column, (_, label) in enumerate(columns):
                    sheet.write_string(1, column, label, bold)
                start = 2
            for number, record in enumerate(records, start):
                values = record if columns is None else [record[name] for name, _ in columns]
                for column, value in enumerate(values):
                    _write_cell(sheet, number, column, value)
    finally:
        workbook.close()


def xlsx_chunks(report, rows):
    """Write the workbook to a temporary file, stream it back in chunks, delete it (also when the client leaves)."""
    handle, path = tempfile.mkstemp(prefix="alx_export_", suffix=".xlsx")
    os.close(handle)
    try:
        write_xlsx(path, report, rows)
        with open(path, "rb") as stream:
            while chunk := stream.read(FILE_CHUNK):
                yield chunk
    finally:
        os.unlink(path)


WRITERS = {"csv": csv_chunks, "json": json_chunks, "xlsx": xlsx_chunks}
