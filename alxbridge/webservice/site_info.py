"""``core_webservice_get_site_info``: who the token belongs to, what the site is, which functions it may call.

Clients (the Moodle app, moodlepy, Postman) call it first to test a connection, so its fields and
their order follow Moodle 4.1's description exactly.
"""

import secrets

import sqlalchemy as sa

from ..moodle.siteconfig import core_config
from .capabilities import has_capability
from .descriptions import OPTIONAL, Multiple, Single, Value
from .functions import ExternalFunction

SITE_COURSE_ID = 1
USER_CONTEXT_LEVEL = 30
PHP_UPLOAD_MAX_FILESIZE = 2 * 1024 * 1024  # PHP's default upload_max_filesize, which Moodle reports
ADVANCED_FEATURES = (  # (config name, Moodle's default when unset)
    ("usecomments", 1), ("usetags", 1), ("enablenotes", 1), ("messaging", 1), ("enableblogs", 1),
    ("enablecompletion", 1), ("enablebadges", 1), ("messagingallusers", 0), ("enablecustomreports", 1),
)  # fmt: skip
CONFIG_NAMES = (
    "theme", "themerev", "release", "version", "calendartype", "userquota", "maxbytes", "defaulthomepage",
    "limitconcurrentlogins", "mobilecssurl", "lang", "mnet_dispatcher_mode", "defaultuserroleid",
    *(name for name, _ in ADVANCED_FEATURES),
)  # fmt: skip

PARAMETERS = Single(
    {"serviceshortnames": Multiple(Value("alphanumext"), required=0, default=[])}  # deprecated and ignored by Moodle
)
RETURNS = Single(
    {
        "sitename": Value("raw"),
        "username": Value("raw"),
        "firstname": Value("text"),
        "lastname": Value("text"),
        "fullname": Value("text"),
        "lang": Value("lang"),
        "userid": Value("int"),
        "siteurl": Value("raw"),
        "userpictureurl": Value("url"),
        "functions": Multiple(Single({"name": Value("raw"), "version": Value("text")})),
        "downloadfiles": Value("int", OPTIONAL),
        "uploadfiles": Value("int", OPTIONAL),
        "release": Value("text", OPTIONAL),
        "version": Value("text", OPTIONAL),
        "mobilecssurl": Value("url", OPTIONAL),
        "advancedfeatures": Multiple(Single({"name": Value("alphanumext"), "value": Value("int")}), OPTIONAL),
        "usercanmanageownfiles": Value("bool", OPTIONAL),
        "userquota": Value("int", OPTIONAL),
        "usermaxuploadfilesize": Value("int", OPTIONAL),
        "userhomepage": Value("int", OPTIONAL),
        "userprivateaccesskey": Value("alphanum", OPTIONAL),
        "siteid": Value("int", OPTIONAL),
        "sitecalendartype": Value("plugin", OPTIONAL),
        "usercalendartype": Value("plugin", OPTIONAL),
        "userissiteadmin": Value("bool", OPTIONAL),
        "theme": Value("theme", OPTIONAL),
        "limitconcurrentlogins": Value("int", OPTIONAL),
        "usersessionscount": Value("int", OPTIONAL),
    }
)


def _version_text(value):
    """Moodle stores ``2022112810.00``; clients are shown ``2022112810``."""
    text = str(value or "")
    return text[:-3] if text.endswith(".00") else text


def _function_versions(connection, tables, service_id, core_version):
    f, sf, plugins = tables.external_functions, tables.external_services_functions, tables.config_plugins
    rows = connection.execute(
        sa.select(f.c.name, f.c.component, plugins.c.value)
        .join(sf, sf.c.functionname == f.c.name)
        .outerjoin(plugins, sa.and_(plugins.c.plugin == f.c.component, plugins.c.name == "version"))
        .where(sf.c.externalserviceid == service_id)
        .order_by(sf.c.id)
    ).all()
    return [
        {"name": name, "version": _version_text(core_version if component in ("moodle", "core") else version)}
        for name, component, version in rows
    ]


def _private_access_key(context):
    """Moodle's ``get_user_key('core_files', userid)``: reuse the user's key or create it, as Moodle does."""
    keys = context.tables.user_private_key
    user_id = context.caller.user["id"]
    where = sa.and_(
        keys.c.script == "core_files", keys.c.userid == user_id, keys.c.instance.is_(None),
        keys.c.iprestriction.is_(None), keys.c.validuntil.is_(None),
    )  # fmt: skip
    value = context.connection.execute(sa.select(keys.c.value).where(where).limit(1)).scalar()
    if value is None:
        value = secrets.token_hex(16)
        context.connection.execute(
            keys.insert().values(script="core_files", value=value, userid=user_id, timecreated=context.now)
        )
        context.connection.commit()
    return value


def _picture_url(context, config, user):
    theme = config.get("theme") or "boost"
    picture = context.connection.execute(
        sa.select(context.tables.user.c.picture).where(context.tables.user.c.id == user["id"])
    ).scalar()
    if picture:
        ctx = context.tables.context
        user_context = context.connection.execute(
            sa.select(ctx.c.id).where(ctx.c.contextlevel == USER_CONTEXT_LEVEL, ctx.c.instanceid == user["id"])
        ).scalar()
        return f"{context.site_url}/pluginfile.php/{user_context}/user/icon/{theme}/f1?rev={picture}"
    return f"{context.site_url}/theme/image.php/{theme}/core/{config.get('themerev') or 1}/u/f1"


def _service(context):
    s = context.tables.external_services
    return context.connection.execute(
        sa.select(s.c.downloadfiles, s.c.uploadfiles).where(s.c.id == context.caller.service_id)
    ).one()


def get_site_info(context, params):
    connection, tables, user = context.connection, context.tables, context.caller.user
    config = core_config(connection, tables, *CONFIG_NAMES)
    site_name = connection.execute(
        sa.select(tables.course.c.fullname).where(tables.course.c.id == SITE_COURSE_ID)
    ).scalar()
    service = _service(context)
    homepage = int(config.get("defaulthomepage") or 1)
    info = {
        "sitename": site_name or "",
        "username": user["username"],
        "firstname": user["firstname"],
        "lastname": user["lastname"],
        "fullname": f"{user['firstname']} {user['lastname']}",
        "lang": user["lang"] or config.get("lang") or "en",
        "userid": user["id"],
        "siteurl": context.site_url,
        "userpictureurl": _picture_url(context, config, user),
        "functions": _function_versions(connection, tables, context.caller.service_id, config.get("version")),
        "downloadfiles": service.downloadfiles,
        "uploadfiles": service.uploadfiles,
        "release": config.get("release", ""),
        "version": _version_text(config.get("version")),
        "mobilecssurl": config.get("mobilecssurl", ""),
        "advancedfeatures": [
            *({"name": name, "value": int(config.get(name) or default)} for name, default in ADVANCED_FEATURES),
            {"name": "mnet_dispatcher_mode", "value": int(config.get("mnet_dispatcher_mode") == "strict")},
        ],
        "usercanmanageownfiles": has_capability(
            connection, tables, context.caller, "moodle/user:manageownfiles", config.get("defaultuserroleid")
        ),
        "userquota": int(config.get("userquota") or 104857600),
        "usermaxuploadfilesize": min(filter(None, (int(config.get("maxbytes") or 0), PHP_UPLOAD_MAX_FILESIZE))),
        "userhomepage": 1 if homepage == 2 else homepage,  # per-user home pages fall back to the dashboard
        "userprivateaccesskey": _private_access_key(context),
        "siteid": SITE_COURSE_ID,
        "sitecalendartype": config.get("calendartype") or "gregorian",
        "usercalendartype": user["calendartype"] or config.get("calendartype") or "gregorian",
        "userissiteadmin": context.caller.is_site_admin,
        "theme": config.get("theme") or "boost",
        "limitconcurrentlogins": int(config.get("limitconcurrentlogins") or 0),
    }
    return info


SITE_INFO = ExternalFunction("core_webservice_get_site_info", PARAMETERS, RETURNS, get_site_info)
