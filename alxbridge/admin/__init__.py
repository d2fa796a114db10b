"""The plugin's admin pages at the plugin's paths under ``/local/alx_report_api/``, for Moodle site admins.

``bp`` checks the admin session before every view (except the login page and the static files);
each page module registers its routes on it. Service code the pages show lives outside Flask
(``alxbridge.metrics``, ``alxbridge.sync``, …); the views here only read the request and render.
"""

from flask import Blueprint

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/local/alx_report_api",
    static_folder="static",
    static_url_path="/static",
)

from . import (  # noqa: E402,F401 - modules register their routes on bp
    alert_history,
    alert_tests,
    api_performance,
    company_settings,
    control_center,
    create_token,
    data_pages,
    diagnostics,
    export,
    guard,
    layout,
    login,
    monitoring,
    rate_limits,
    sync_pages,
    unified_monitoring,
)
