"""One REST call from token to response body, in Moodle's order: authenticate, find the function,
check the service grants it, validate parameters, run, clean the return value, serialise. Free of Flask."""

import logging
from dataclasses import replace

from .access import require_function_access
from .auth import authenticate, check_site_switches, read_site_and_token
from .descriptions import clean_returnvalue, validate_parameters
from .exceptions import unknown_function
from .functions import Rendered
from .grants import read_grants, require_rest_capability
from .registry import FUNCTIONS
from .rendering import result_body

log = logging.getLogger(__name__)


class AuthenticationFailed(Exception):
    """Wraps the Moodle error of a failed authentication, so the abuse shield can count it."""

    def __init__(self, error):
        super().__init__(error.message)
        self.error = error


def execute(connection, tables, call, context):
    """Run ``call``; ``context`` is a :class:`CallContext` without a caller yet. Returns the :class:`Rendered`
    answer."""
    config, token_row = read_site_and_token(connection, tables, call.token)
    check_site_switches(config)
    try:
        caller = authenticate(connection, tables, token_row, context.client_ip, context.now, config)
        grants = read_grants(connection, tables, caller, call.function, context.now, config.get("defaultuserroleid"))
        require_rest_capability(caller, grants)
    except Exception as error:
        if getattr(error, "errorcode", None) is None:
            raise
        raise AuthenticationFailed(error) from None
    require_function_access(
        connection, tables, caller, call.function, context.client_ip, grants.services, config.get("defaultuserroleid")
    )
    function = FUNCTIONS.get(call.function)
    if function is None:  # declared in Moodle but not implemented here, and no upstream to pass it to
        raise unknown_function(call.function)
    params = validate_parameters(function.parameters, call.params)

    def report(key, original, cleaned):
        log.warning(
            "%s: cleaned %s for user %s (%r became %r) instead of failing the response",
            function.name, key, caller.user["id"], original, cleaned,
        )  # fmt: skip

    def render(value):
        return result_body(clean_returnvalue(function.returns, value, report), function.returns, call.format)

    context = replace(context, caller=caller, render=render, response_format=call.format, site_config=config)
    result = function.run(context, params)
    return result if isinstance(result, Rendered) else Rendered(render(result))
