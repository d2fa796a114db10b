"""What an external function is to the REST server: a name, a description of its input and output,
and the code that runs it with a :class:`CallContext`."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .auth import Caller
from .descriptions import Single


@dataclass(frozen=True)
class CallContext:
    """Everything a function may use; built per request by the view, free of Flask."""

    connection: object
    tables: object
    caller: Caller
    token: str
    now: int
    method: str
    client_ip: str
    user_agent: str
    headers: Mapping
    site_url: str
    settings: Mapping
    cache: object = None  # get/set/timeout like Flask-Caching's Cache; None disables caching
    site_config: Mapping | None = None  # the ``mdl_config`` values the server read (site switches, timezone)
    # Set by the server for the function it runs: value → response body (cleaned, in the call's format).
    render: Callable[[object], str] | None = None
    response_format: str = "json"


@dataclass(frozen=True)
class Rendered:
    """A response body (rendered with :attr:`CallContext.render`, possibly by the function itself, e.g. from its
    cache) and the headers the function adds after Moodle's own (none for Moodle's functions)."""

    body: str
    headers: tuple = ()


@dataclass(frozen=True)
class ExternalFunction:
    name: str
    parameters: Single
    returns: object
    run: Callable[[CallContext, dict], object]
