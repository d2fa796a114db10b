"""``control_center.php``: the plugin's Control Center, and ``ajax_stats.php`` that refreshes its header."""

from flask import jsonify

from ..extensions import get_database
from ..metrics.overview import overview
from . import bp
from .layout import render_page, site_moment

TABS = (
    ("overview", "System Overview"),
    ("companies", "Company Management"),
    ("data", "Data Management"),
    ("monitoring", "Monitoring & Analytics"),
    ("settings", "System Configuration"),
)


@bp.route("/ajax_stats.php")
def ajax_stats():
    database = get_database()
    with database.connect() as connection:
        return jsonify(overview(connection, database.tables, site_moment(connection)).as_json())


@bp.route("/control_center.php")
def control_center():
    database = get_database()
    with database.connect() as connection:
        header = overview(connection, database.tables, site_moment(connection))
    return render_page("admin/control_center.html", title="ALX Report API Control Center",
                       active="admin.control_center", header=header, tabs=TABS, tab="overview")  # fmt: skip
