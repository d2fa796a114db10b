"""Which functions a caller may run (Moodle's ``load_function_info``, ``moodle-rest-contract.md`` §3)."""

import sqlalchemy as sa

from .capabilities import has_capability
from .exceptions import function_not_allowed, invalid_parameter, unknown_function
from .subnet import address_in_subnet


def is_missing_function_name(name):
    """PHP's ``empty()``: no name, an empty name and ``"0"`` all count as missing."""
    return name is None or name in ("", "0")


def require_declared_function(connection, tables, name):
    """The function must exist in ``external_functions``; otherwise Moodle's ``invalidrecord``."""
    if is_missing_function_name(name):
        raise invalid_parameter("Missing function name")
    functions = tables.external_functions
    found = connection.execute(
        sa.select(functions.c.id).where(functions.c.name == (name if isinstance(name, str) else "Array"))
    ).first()
    if found is None:
        raise unknown_function(name if isinstance(name, str) else "Array")


def service_selects(tables, shape):
    """Moodle's access query as its two SELECTs: open services with the function, or restricted ones listing the
    user. ``shape(id, requiredcapability, iprestriction, declared)`` gives each SELECT's columns; bind ``name``,
    ``service``, ``user`` and ``now``. The two never share a row (``restrictedusers`` is 0 in one, 1 in the other).

    ``su.validuntil < now`` is Moodle's own condition (an allowed-user row whose validity lies in the
    future does not grant access); it is kept so that access decisions match Moodle's.
    """
    s, sf, su = tables.external_services, tables.external_services_functions, tables.external_services_users
    functions = tables.external_functions
    name, service, now = sa.bindparam("name"), sa.bindparam("service"), sa.bindparam("now")
    declared = sa.exists().where(functions.c.name == name)
    open_services = (
        sa.select(*shape(s.c.id, s.c.requiredcapability, sa.null(), declared))
        .join(sf, sa.and_(sf.c.externalserviceid == s.c.id, s.c.restrictedusers == 0, sf.c.functionname == name))
        .where(s.c.enabled == 1, s.c.id == service)
    )
    restricted_services = (
        sa.select(*shape(s.c.id, s.c.requiredcapability, su.c.iprestriction, declared))
        .join(sf, sa.and_(sf.c.externalserviceid == s.c.id, s.c.restrictedusers == 1, sf.c.functionname == name))
        .join(su, sa.and_(su.c.externalserviceid == s.c.id, su.c.userid == sa.bindparam("user")))
        .where(
            s.c.enabled == 1,
            sa.or_(su.c.validuntil.is_(None), su.c.validuntil < now),
            s.c.id == service,
        )
    )
    return open_services, restricted_services


def require_function_access(connection, tables, caller, name, client_ip, rows, default_user_role_id):
    """Moodle's two checks in its order: ``name`` is a declared function (else ``invalidrecord``), and the
    caller's service grants it (else ``accessexception``).

    ``rows`` are the :func:`service_selects` rows for ``name`` (read with the caller's grants). They carry
    whether the function is declared; the separate lookup runs only when no service row came back.
    ``default_user_role_id``: Moodle's ``defaultuserroleid``, read with the site switches.
    """
    if not rows or not rows[0]["declared"]:
        require_declared_function(connection, tables, name)
    for row in rows:
        capability = row["requiredcapability"]
        if capability and not has_capability(connection, tables, caller, capability, default_user_role_id):
            continue
        if row["iprestriction"] and not address_in_subnet(client_ip, row["iprestriction"]):
            continue
        return
    raise function_not_allowed(name)
