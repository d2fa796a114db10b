"""Make an admin test site answer web service calls: REST on, the plugin's function in its service."""

import sqlalchemy as sa

SERVER = "/webservice/rest/server.php"
PROGRESS = "local_alx_report_api_get_course_progress"
USER_ROLE = 7  # Moodle's "Authenticated user" role


def enable_web_service(site):
    """REST enabled, users allowed to use it, and ``alx_report_api_custom`` offering the progress function.

    Returns the service id; tokens come from the admin page or ``alxbridge.moodle.tokens.create_token``.
    """
    site.core_config("enablewebservices", "1")
    site.core_config("webserviceprotocols", "rest")
    site.core_config("defaultuserroleid", str(USER_ROLE))
    tables = site.tables
    with site.database.begin() as connection:
        connection.execute(sa.insert(tables.context).values(id=1, contextlevel=10, instanceid=0, path="/1", depth=1))
        connection.execute(sa.insert(tables.role_capabilities).values(
            contextid=1, roleid=USER_ROLE, capability="webservice/rest:use", permission=1, timemodified=site.now,
            modifierid=2,
        ))  # fmt: skip
        connection.execute(sa.insert(tables.external_functions).values(
            name=PROGRESS, classname="local_alx_report_api_external", methodname="get_course_progress",
            component="local_alx_report_api", capabilities="",
        ))  # fmt: skip
    serviceid = site.api_service(tokens=0)
    with site.database.begin() as connection:
        connection.execute(
            sa.insert(tables.external_services_functions).values(externalserviceid=serviceid, functionname=PROGRESS)
        )
    return serviceid


def progress_items(client, token, limit=100):
    """The items of one ``get_course_progress`` call (JSON), failing on an error envelope."""
    response = client.post(
        SERVER,
        data={"wstoken": token, "wsfunction": PROGRESS, "moodlewsrestformat": "json", "limit": limit, "offset": 0},
    )
    body = response.get_json()
    assert isinstance(body, list), body
    return body
