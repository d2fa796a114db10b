"""``export_data.php``: the export options page by default, a streamed CSV, JSON or XLSX with ``format``.

The plugin downloaded a CSV on every request (its ``format`` defaulted to csv, B1) and echoed the
time range into its links (S7); here only an explicit, validated ``format`` downloads, and only
validated values are ever shown back.
"""

from flask import Response, request, stream_with_context

from ..extensions import get_database
from ..metrics.limits import all_companies
from ..metrics.overview import active_reporting_rows
from . import bp
from .export_report import (
    FORMATS,
    STATUSES,
    TIME_RANGES,
    WRITERS,
    ExportError,
    ExportFilter,
    filename,
    format_of,
    parse_filter,
    prepare_report,
    report_rows,
)
from .layout import render_page, site_moment


def _download(chosen, export_filter, moment):
    """Stream the file: the generator holds one connection (one snapshot on MariaDB) while it writes."""
    database = get_database()

    def generate():
        with database.connect() as connection:
            report = prepare_report(connection, database.tables, export_filter, moment)
            yield from WRITERS[chosen](report, report_rows(connection, database.tables, export_filter, moment))

    response = Response(
        stream_with_context(generate()),
        content_type=FORMATS[chosen],
        headers={
            "Content-Disposition": f'attachment; filename="{filename(chosen, moment)}"',
            "X-Accel-Buffering": "no",  # nginx passes the chunks on as they come
        },
    )
    # Nothing may turn the stream into a list behind our back (e.g. to measure its length for a log line).
    response.implicit_sequence_conversion = False
    return response


@bp.route("/export_data.php")
def export_data():
    errors = []
    try:
        chosen = format_of(request.args)
    except ExportError as error:
        chosen, errors = None, error.messages
    try:
        export_filter = parse_filter(request.args)
    except ExportError as error:
        export_filter, errors = ExportFilter(), errors + error.messages

    database = get_database()
    with database.connect() as connection:
        moment = site_moment(connection)
        report = None
        try:
            report = prepare_report(connection, database.tables, export_filter, moment)
        except ExportError as error:
            errors += error.messages
        if chosen and not errors:
            return _download(chosen, export_filter, moment)
        stored_rows = active_reporting_rows(connection, database.tables)
        companies = all_companies(connection, database.tables)
    return render_page(
        "admin/export_data.html", title="Export API Report Data", active="admin.export_data",
        status=400 if errors else 200, errors=errors, report=report, export_filter=export_filter,
        companies=companies, stored_rows=stored_rows, time_ranges=TIME_RANGES, statuses=STATUSES,
    )  # fmt: skip
