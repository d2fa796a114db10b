"""``has_capability()`` for one user, one capability and one context, as Moodle resolves it.

Site admins have every capability. Otherwise each of the user's roles on the context's path (plus
the authenticated-user role at system level) resolves the capability at the most specific context
that defines it; a prohibit anywhere denies, any role that resolves to allow grants.
"""

import sqlalchemy as sa

from ..db.prebuilt import prebuilt

SYSTEM_CONTEXT_ID = 1
ALLOW, PROHIBIT = 1, -1000


def _context_path(caller):
    ids = [int(part) for part in caller.context_path.split("/") if part.isdigit()]
    return ids or [SYSTEM_CONTEXT_ID, caller.context_id]


@prebuilt
def definitions_query(tables):
    """The capability's definitions on the context path for the roles the user holds there, or the default role:
    ``(roleid, contextid, permission)`` rows; bind :func:`definition_parameters`."""
    ra, rc = tables.role_assignments, tables.role_capabilities
    path = sa.bindparam("path", expanding=True)
    assigned = sa.select(ra.c.roleid).where(ra.c.userid == sa.bindparam("user"), ra.c.contextid.in_(path))
    held = sa.or_(rc.c.roleid.in_(assigned), rc.c.roleid == sa.bindparam("default_role"))
    return sa.select(rc.c.roleid, rc.c.contextid, rc.c.permission).where(
        rc.c.capability == sa.bindparam("capability"), held, rc.c.contextid.in_(path)
    )


def definition_parameters(caller, capability, default_user_role_id):
    """``(path, parameters)``: the caller's context path (ids, system first) and the query's parameters."""
    path = _context_path(caller)
    default_role = int(default_user_role_id) if str(default_user_role_id or "").isdigit() else None  # = NULL: none
    return path, {"path": path, "user": caller.user["id"], "default_role": default_role, "capability": capability}


def has_capability(connection, tables, caller, capability, default_user_role_id):
    """One query: the capability's definitions on the path, for the roles the user holds there (or the default)."""
    if caller.is_site_admin:
        return True
    path, parameters = definition_parameters(caller, capability, default_user_role_id)
    return resolves_to_allow(connection.execute(definitions_query(tables), parameters).all(), path)


def resolves_to_allow(rows, path):
    """Moodle's resolution of ``(roleid, contextid, permission)`` definitions along ``path``."""
    if any(permission <= PROHIBIT for _, _, permission in rows):
        return False
    depth = {context_id: index for index, context_id in enumerate(path)}
    resolved = {}
    for role_id, _context_id, permission in sorted(rows, key=lambda r: depth[r[1]]):
        resolved[role_id] = permission  # deeper contexts come later and win
    return any(permission >= ALLOW for permission in resolved.values())
