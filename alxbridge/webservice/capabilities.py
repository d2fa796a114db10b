"""``has_capability()`` for one user, one capability and one context, as Moodle resolves it.

Site admins have every capability. Otherwise each of the user's roles on the context's path (plus
the authenticated-user role at system level) resolves the capability at the most specific context
that defines it; a prohibit anywhere denies, any role that resolves to allow grants.
"""

import sqlalchemy as sa

SYSTEM_CONTEXT_ID = 1
ALLOW, PROHIBIT = 1, -1000


def _context_path(connection, tables, caller):
    path = caller.context_path
    if path is None:
        context = tables.context
        path = connection.execute(sa.select(context.c.path).where(context.c.id == caller.context_id)).scalar()
    ids = [int(part) for part in (path or "").split("/") if part.isdigit()]
    return ids or [SYSTEM_CONTEXT_ID, caller.context_id]


def has_capability(connection, tables, caller, capability, default_user_role_id):
    """One query: the capability's definitions on the path, for the roles the user holds there (or the default)."""
    if caller.is_site_admin:
        return True
    path = _context_path(connection, tables, caller)
    ra, rc = tables.role_assignments, tables.role_capabilities
    assigned = sa.select(ra.c.roleid).where(ra.c.userid == caller.user["id"], ra.c.contextid.in_(path))
    held = rc.c.roleid.in_(assigned)
    if str(default_user_role_id or "").isdigit():
        held = sa.or_(held, rc.c.roleid == int(default_user_role_id))
    rows = connection.execute(
        sa.select(rc.c.roleid, rc.c.contextid, rc.c.permission).where(
            rc.c.capability == capability, held, rc.c.contextid.in_(path)
        )
    ).all()
    if any(permission <= PROHIBIT for _, _, permission in rows):
        return False
    depth = {context_id: index for index, context_id in enumerate(path)}
    resolved = {}
    for role_id, _context_id, permission in sorted(rows, key=lambda r: depth[r[1]]):
        resolved[role_id] = permission  # deeper contexts come later and win
    return any(permission >= ALLOW for permission in resolved.values())
