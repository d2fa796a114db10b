"""Moodle's site configuration (``mdl_config``, and other plugins' ``mdl_config_plugins``) as the bridge needs it.

A few named values at a time; the ALX plugin's own settings are :mod:`.plugin_settings`'.

Values set in Moodle's ``config.php`` override the database and are invisible here; the bridge's
own ``ALX_*`` settings cover the ones that matter (debug level, timezone).
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
import tzlocal


def core_config(connection, tables, *names):
    """``{name: value}`` for the names present in ``mdl_config`` (absent names are left out)."""
    config = tables.config
    rows = connection.execute(sa.select(config.c.name, config.c.value).where(config.c.name.in_(names)))
    return dict(rows.all())


def plugin_config(connection, tables, plugin, name):
    """One ``mdl_config_plugins`` value of another plugin (``tool_log | enabled_stores``), or ``None``."""
    config = tables.config_plugins
    query = sa.select(config.c.value).where(config.c.plugin == plugin, config.c.name == name)
    return connection.execute(query).scalar()


def site_admin_ids(value):
    """``$CFG->siteadmins`` (``"2,57"``) as a set of user ids."""
    return {int(part) for part in (value or "").split(",") if part.strip().isdigit()}


TIMEZONE_SETTINGS = ("forcetimezone", "timezone")


def server_timezone():
    """This server's zone with its DST rules (``TZ`` or ``/etc/localtime``), as PHP's default zone would be."""
    return tzlocal.get_localzone()


def site_timezone(connection, tables, override=None, config=None):
    """The zone of the plugin's ``Y-m-d H:i:s`` dates and of "today" for quotas.

    ``ALX_TIMEZONE`` wins; else Moodle's ``forcetimezone``, then ``timezone`` (``99`` means "the
    server's"), else the zone of this server, as PHP's default would be. ``config``: ``mdl_config``
    values the caller has already read, :data:`TIMEZONE_SETTINGS` among them.
    """
    if override:
        return ZoneInfo(override)
    if config is None:
        config = core_config(connection, tables, *TIMEZONE_SETTINGS)
    for name in TIMEZONE_SETTINGS:
        value = (config.get(name) or "").strip()
        if value and value != "99":
            try:
                return ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return server_timezone()
