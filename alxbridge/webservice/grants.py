"""What the caller's roles and the token's service grant, read in one round trip after authentication.

Moodle checks two things next, in this order: that the user holds ``webservice/rest:use`` on the
token's context, then that the token's service offers the function (:mod:`.access`). Both lookups
depend only on the caller and the function name, so they run as one ``UNION ALL`` whose rows say
which lookup they answer; the decisions stay in :mod:`.capabilities` and :mod:`.access`.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..db.prebuilt import prebuilt
from .access import service_selects
from .capabilities import definition_parameters, definitions_query, resolves_to_allow
from .exceptions import access_exception

REST_CAPABILITY = "webservice/rest:use"


@dataclass(frozen=True)
class Grants:
    path: list  # the token context's path, system context first
    rest_definitions: list  # (roleid, contextid, permission) of REST_CAPABILITY on the path
    services: list  # the service rows granting the function, as :func:`.access.require_function_access` reads them


@prebuilt
def _grants_query(tables):
    """``(kind, a, b, c, d)`` rows: ``role`` definitions, then ``service`` rows, flat (no derived tables)."""
    text = sa.String()  # one type (and collation) per UNION column: every value travels as CAST(… AS CHAR)
    rc = tables.role_capabilities
    definitions = definitions_query(tables).with_only_columns(
        sa.literal("role").label("kind"), sa.cast(rc.c.roleid, text).label("a"),
        sa.cast(rc.c.contextid, text).label("b"), sa.cast(rc.c.permission, text).label("c"), sa.null().label("d"),
    )  # fmt: skip

    def service_columns(service_id, capability, iprestriction, declared):
        return (
            sa.literal("service"),
            sa.cast(service_id, text),
            sa.cast(capability, text),
            sa.cast(iprestriction, text),
            declared,
        )

    return sa.union_all(definitions, *service_selects(tables, service_columns))


def read_grants(connection, tables, caller, function_name, now, default_user_role_id):
    """The :class:`Grants` of ``caller`` for ``function_name`` (any value a request may carry)."""
    path, parameters = definition_parameters(caller, REST_CAPABILITY, default_user_role_id)
    name = function_name if isinstance(function_name, str) and function_name else None  # None: no service row
    parameters.update(name=name, service=caller.service_id, now=now)
    definitions, services = [], []
    for kind, a, b, c, d in connection.execute(_grants_query(tables), parameters):
        if kind == "role":
            definitions.append((int(a), int(b), int(c)))
        else:
            services.append({"id": int(a), "requiredcapability": b, "iprestriction": c, "declared": bool(d)})
    return Grants(path, definitions, services)


def require_rest_capability(caller, grants):
    """Moodle's last authentication check: the user may use the REST protocol (site admins always may)."""
    if not (caller.is_site_admin or resolves_to_allow(grants.rest_definitions, grants.path)):
        raise access_exception("You are not allowed to use the rest protocol (missing capability: webservice/rest:use)")
