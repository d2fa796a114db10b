"""Moodle's web service exceptions: the class name, errorcode, English message and debuginfo it sends.

Each factory below mirrors one ``throw`` of Moodle's REST server, so the envelope a client
receives is the one it would get from Moodle (``moodle-rest-contract.md`` §5.4).
"""

ACCESS_DEBUGINFO = """Access to the function {function}() is not allowed.
                     There could be multiple reasons for this:
                     1. The service linked to the user token does not contain the function.
                     2. The service is user-restricted and the user is not listed.
                     3. The service is IP-restricted and the user IP is not listed.
                     4. The service is time-restricted and the time has expired.
                     5. The token is time-restricted and the time has expired.
                     6. The service requires a specific capability which the user does not have.
                     7. The function is called with username/password (no user token is sent)
                     and none of the services has the function to allow the user.
                     These settings can be found in Administration > Site administration
                     > Server > Web services > External services and Manage tokens."""


class MoodleError(Exception):
    """An error rendered as Moodle's ``{"exception","errorcode","message"[,"debuginfo"]}`` envelope."""

    def __init__(self, exception, errorcode, message, debuginfo=None, wrapped=None):
        super().__init__(message)
        self.exception = exception
        self.errorcode = errorcode
        self.message = message
        self.debuginfo = debuginfo
        self.wrapped = wrapped  # (key, inner error) when a structure key re-throws an inner error

    def rendered(self, developer_display=False):
        """(message, debuginfo) as Moodle builds them.

        With ``debug = DEBUG_DEVELOPER`` and ``debugdisplay`` on, every ``moodle_exception`` message ends
        in `` (debuginfo)`` — also the inner one that a structure key re-throws as ``key => message:
        debuginfo``, so nested messages grow (``moodle-rest-contract.md`` §1.5, §5.2).
        """
        debuginfo = self.debuginfo
        if self.wrapped is not None:
            key, inner = self.wrapped
            inner_message, inner_debuginfo = inner.rendered(developer_display)
            debuginfo = f"{key} => {inner_message}: {inner_debuginfo or ''}"
        message = self.message
        if developer_display and debuginfo:
            message = f"{message} ({debuginfo})"
        return message, debuginfo


def invalid_token():
    return MoodleError("moodle_exception", "invalidtoken", "Invalid token - token not found")


def access_exception(debuginfo):
    return MoodleError("webservice_access_exception", "accessexception", "Access control exception", debuginfo)


def function_not_allowed(function):
    return access_exception(ACCESS_DEBUGINFO.format(function=function))


def invalid_parameter(debuginfo):
    return MoodleError("invalid_parameter_exception", "invalidparameter", "Invalid parameter value detected", debuginfo)


def invalid_response(debuginfo):
    return MoodleError("invalid_response_exception", "invalidresponse", "Invalid response value detected", debuginfo)


def missing_record(table, errorcode, message, where, params):
    """``dml_missing_record_exception`` with the SQL and parameters Moodle puts in its debuginfo."""
    rendered = "".join(f"  {i} => '{value}',\n" for i, value in enumerate(params))
    debuginfo = f"SELECT * FROM {{{table}}} WHERE {where}\n[array (\n{rendered})]"  # noqa: S608 - message text
    return MoodleError("dml_missing_record_exception", errorcode, message, debuginfo)


def unknown_function(name):
    return missing_record(
        "external_functions", "invalidrecord",
        "Can't find data record in database table external_functions.", "name = ?", [name],
    )  # fmt: skip


def refused_user(errorcode, reason, username):
    """The ``wsaccessuser*`` family: deleted, unconfirmed, suspended, password expired, nologin."""
    return MoodleError("moodle_exception", errorcode, f"Refused web service access for {reason} username: {username}")


def site_maintenance():
    return MoodleError(
        "moodle_exception", "sitemaintenance", "The site is undergoing maintenance and is currently not available"
    )


def database_read_error(debuginfo):
    return MoodleError("dml_read_exception", "dmlreadexception", "Error reading from database", debuginfo)


def database_connection_failed(debuginfo):
    return MoodleError("dml_connection_exception", "dbconnectionfailed", "Error: Database connection failed", debuginfo)


def rate_limited(debuginfo):
    """The short-window abuse shield; same errorcode as the plugin's daily quota, its own message."""
    return MoodleError(
        "moodle_exception", "ratelimitexceeded", "Too many requests in a short time; please retry later", debuginfo
    )


def unexpected_error(request_id):
    """A failure of the bridge itself: no details leave the server, the request id finds them in the log."""
    return MoodleError(
        "moodle_exception", "generalexceptionmessage", f"Error: unexpected server error (request id {request_id})"
    )
