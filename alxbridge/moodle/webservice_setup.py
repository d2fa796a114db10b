"""What Moodle needs before a client can call ``local_alx_report_api_get_course_progress``, checked and fixed.

``fix_webservice_access.php`` (and the archived ``fix_service.php``/``service_verification.php`` it
replaces) diagnoses the switches and rows the REST server reads, and applies only the fixes an
admin ticks, in one transaction. The checks read exactly what :mod:`alxbridge.webservice` reads, so
"ready" here means the bridge will accept a valid token.

Design decision: a service created here is open to every user holding one of its tokens
(``restrictedusers = 0``), as the plugin's ``db/install.php`` and ``fix_webservice_access.php``
create it; ``fix_service.php`` chose 1. A restricted service only answers users listed as its
authorised users, which none of these tools (nor ``create-token``) adds, so every existing token
would be refused. Tokens are issued by site admins only, so the token already limits access.

Moodle keeps ``config`` and the service definitions in its caches: Moodle's own pages see these
writes after a cache purge; the bridge reads the database and sees them at once.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from ..db.upsert import upsert
from ..reporting.formatting import plugin_date
from .siteconfig import core_config
from .tokens import PERMANENT_TOKEN, SERVICE_SHORTNAMES, active_token_count, mask, plugin_service

FUNCTION_NAME = "local_alx_report_api_get_course_progress"
# The function as the plugin's db/services.php declares it (Moodle writes this row when it installs the plugin).
FUNCTION_DEFINITION = {
    "name": FUNCTION_NAME,
    "classname": "local_alx_report_api_external",
    "methodname": "get_course_progress",
    "classpath": "local/alx_report_api/externallib.php",
    "component": "local_alx_report_api",
    "capabilities": "",
}
NEW_SERVICE = {
    "name": "ALX Report API Custom Service",
    "shortname": SERVICE_SHORTNAMES[0],
    "component": "local_alx_report_api",
    "enabled": 1,
    "restrictedusers": 0,
    "downloadfiles": 0,
    "uploadfiles": 0,
}
# Every fix, in the order it is applied (the service must exist before the function is added to it).
FIXES = {
    "enable_webservices": "Set enablewebservices to 1",
    "enable_rest": "Add rest to webserviceprotocols",
    "create_service": "Create the service alx_report_api_custom (enabled, restrictedusers = 0)",
    "enable_service": "Enable the service",
    "register_function": f"Register {FUNCTION_NAME} in external_functions as the plugin declares it",
    "map_function": f"Add {FUNCTION_NAME} to the service",
}


class FixError(ValueError):
    """The ticked fixes cannot be applied as asked; nothing was written."""


@dataclass(frozen=True)
class Check:
    key: str  # the key of the fix that repairs it, when there is one
    label: str
    ok: bool
    detail: str

    @property
    def fix(self):
        return None if self.ok else FIXES.get(self.key)


@dataclass(frozen=True)
class Diagnosis:
    checks: tuple
    service: object  # the plugin's service row (id, shortname, enabled, restrictedusers), or None
    active_tokens: int

    @property
    def issues(self):
        return [check for check in self.checks if not check.ok]

    @property
    def fixable(self):
        return [check for check in self.issues if check.fix]

    @property
    def ready(self):
        return not self.issues


def protocols_of(value):
    """``webserviceprotocols`` split as Moodle's ``in_array()`` reads it (no trimming)."""
    return (value or "").split(",")


def _service(connection, tables):
    """The plugin's service with ``restrictedusers`` (which decides who may call it), or ``None``."""
    found = plugin_service(connection, tables)
    if found is None:
        return None
    services = tables.external_services
    return connection.execute(
        sa.select(services.c.id, services.c.shortname, services.c.enabled, services.c.restrictedusers).where(
            services.c.id == found.id
        )
    ).one()


def _function_registered(connection, tables):
    functions = tables.external_functions
    return connection.execute(sa.select(functions.c.id).where(functions.c.name == FUNCTION_NAME)).first() is not None


def _function_mapped(connection, tables, serviceid):
    mapping = tables.external_services_functions
    return (
        connection.execute(
            sa.select(mapping.c.id).where(
                mapping.c.externalserviceid == serviceid, mapping.c.functionname == FUNCTION_NAME
            )
        ).first()
        is not None
    )


def _service_detail(service):
    legacy = " (the legacy shortname)" if service.shortname != SERVICE_SHORTNAMES[0] else ""
    access = "authorised users only" if service.restrictedusers else "every user with a token"
    return f"{service.shortname}{legacy}, ID {service.id}, open to {access}"


def diagnose(connection, tables, now):
    """Every check, in the order the REST server meets them."""
    config = core_config(connection, tables, "enablewebservices", "webserviceprotocols")
    webservices = config.get("enablewebservices") not in (None, "", "0")
    protocols = config.get("webserviceprotocols") or ""
    service = _service(connection, tables)
    registered = _function_registered(connection, tables)
    mapped = service is not None and _function_mapped(connection, tables, service.id)
    tokens = active_token_count(connection, tables, service.id, now) if service is not None else 0
    missing_service = f"no service {' or '.join(SERVICE_SHORTNAMES)}"
    checks = [
        Check(
            "enable_webservices", "Web services enabled (enablewebservices)", webservices,
            "enabled" if webservices else "disabled: Moodle refuses every web service call",
        ),
        Check(
            "enable_rest", "REST protocol enabled (webserviceprotocols)", "rest" in protocols_of(protocols),
            f"protocols: {protocols or 'none'}",
        ),
        Check(
            "create_service", "API service exists", service is not None,
            _service_detail(service) if service else missing_service,
        ),
    ]  # fmt: skip
    if service is not None:
        enabled = bool(service.enabled)
        checks.append(
            Check("enable_service", "API service enabled", enabled,
                  "enabled" if enabled else "disabled: every call is refused")
        )  # fmt: skip
    checks += [
        Check(
            "register_function", "Function registered (external_functions)", registered,
            FUNCTION_NAME if registered else f"{FUNCTION_NAME} is not in external_functions",
        ),
        Check(
            "map_function", "Function added to the service (external_services_functions)", mapped,
            "mapped" if mapped else "the service does not offer the function",
        ),
        Check(
            "tokens", "Active tokens for the service", tokens > 0,
            f"{tokens} active token(s)" if tokens else "no active token: create one for a company user",
        ),
    ]  # fmt: skip
    return Diagnosis(tuple(checks), service, tokens)


def _set_config(connection, tables, name, value):
    upsert(connection, tables.config, {"name": name}, {"value": value})


def apply_fixes(connection, tables, selected, now):
    """Apply the fixes in ``selected`` (keys of :data:`FIXES`) that are still needed.

    Returns ``(done, already)``: the fixes applied, and the ticked ones that were no longer needed.
    The caller runs this in one transaction. Raises :class:`FixError`, before writing anything, when
    a key is unknown or the fixes ticked cannot work together.
    """
    selected = set(selected)
    if not selected:
        raise FixError("Tick at least one fix to apply.")
    if selected - FIXES.keys():
        raise FixError("An unknown fix was requested; reload the page and tick the fixes again.")
    diagnosis = diagnose(connection, tables, now)
    needed = {check.key for check in diagnosis.fixable} & selected
    if "map_function" in needed and diagnosis.service is None and "create_service" not in needed:
        raise FixError("Adding the function to the service needs the service: tick “Create the service” too.")
    service_id = diagnosis.service.id if diagnosis.service is not None else None
    done = []
    for key in FIXES:
        if key not in needed:
            continue
        if key == "enable_webservices":
            _set_config(connection, tables, "enablewebservices", "1")
        elif key == "enable_rest":
            current = core_config(connection, tables, "webserviceprotocols").get("webserviceprotocols")
            kept = [p.strip() for p in protocols_of(current) if p.strip() and p.strip() != "rest"]
            _set_config(connection, tables, "webserviceprotocols", ",".join([*kept, "rest"]))
        elif key == "create_service":
            service_id = connection.execute(
                sa.insert(tables.external_services).values(**NEW_SERVICE, timecreated=now, timemodified=now)
            ).inserted_primary_key[0]
        elif key == "enable_service":
            services = tables.external_services
            connection.execute(
                sa.update(services).where(services.c.id == service_id).values(enabled=1, timemodified=now)
            )
        elif key == "register_function":
            connection.execute(sa.insert(tables.external_functions).values(**FUNCTION_DEFINITION))
        elif key == "map_function":
            connection.execute(
                sa.insert(tables.external_services_functions).values(
                    externalserviceid=service_id, functionname=FUNCTION_NAME
                )
            )
        done.append(FIXES[key])
    already = sorted(FIXES[key] for key in selected - needed)
    return done, already


@dataclass(frozen=True)
class TokenCheck:
    masked: str
    found: bool
    findings: tuple  # (ok, text): ok True/False, or None for plain information

    @property
    def usable(self):
        return self.found and all(ok is not False for ok, _ in self.findings)


def _token_findings(connection, tables, row, timezone, now):
    services, users = tables.external_services, tables.user
    service = connection.execute(
        sa.select(services.c.shortname, services.c.enabled, services.c.restrictedusers).where(
            services.c.id == row.externalserviceid
        )
    ).first()
    owner = connection.execute(
        sa.select(users.c.firstname, users.c.lastname, users.c.username, users.c.deleted, users.c.suspended).where(
            users.c.id == row.userid
        )
    ).first()
    if row.tokentype == PERMANENT_TOKEN:
        yield True, "a permanent web service token"
    else:
        yield False, f"not a web service token (type {row.tokentype}: an embedded or mobile app token)"
    if service is None:
        yield False, f"its service (ID {row.externalserviceid}) no longer exists"
    else:
        ours = service.shortname in SERVICE_SHORTNAMES
        yield ours, f"service {service.shortname}" + ("" if ours else ", not the ALX Report API service")
        yield bool(service.enabled), "the service is enabled" if service.enabled else "the service is disabled"
        mapped = _function_mapped(connection, tables, row.externalserviceid)
        yield mapped, "the service offers the function" if mapped else f"the service does not offer {FUNCTION_NAME}"
    if not row.validuntil:
        yield True, "never expires"
    elif row.validuntil > now:
        yield True, f"valid until {plugin_date(row.validuntil, timezone)}"
    else:
        yield False, f"expired on {plugin_date(row.validuntil, timezone)}"
    if owner is None:
        yield False, f"its user (ID {row.userid}) does not exist"
    else:
        name = f"{owner.firstname} {owner.lastname} ({owner.username}, ID {row.userid})"
        if owner.deleted or owner.suspended:
            yield False, f"owner {name} is {'deleted' if owner.deleted else 'suspended'}"
        else:
            yield True, f"owner {name}"
        if service is not None and service.restrictedusers:
            allowed = tables.external_services_users
            listed = connection.execute(
                sa.select(allowed.c.id).where(
                    allowed.c.externalserviceid == row.externalserviceid, allowed.c.userid == row.userid
                )
            ).first()
            yield listed is not None, (
                "the owner is an authorised user of the restricted service" if listed
                else "the service is restricted and the owner is not one of its authorised users"
            )  # fmt: skip
    yield None, f"IP restriction: {row.iprestriction}" if row.iprestriction else "no IP restriction"
    yield None, f"last used {plugin_date(row.lastaccess, timezone)}" if row.lastaccess else "never used"


def check_token(connection, tables, token, timezone, now):
    """What stands between ``token`` and a successful call; the token itself appears only masked."""
    token = (token or "").strip()
    tokens = tables.external_tokens
    row = connection.execute(
        sa.select(
            tokens.c.tokentype, tokens.c.userid, tokens.c.externalserviceid, tokens.c.validuntil,
            tokens.c.iprestriction, tokens.c.lastaccess,
        ).where(tokens.c.token == token)
    ).first()  # fmt: skip
    if row is None:
        return TokenCheck(mask(token), False, ((False, "no token of this site matches"),))
    return TokenCheck(mask(token), True, tuple(_token_findings(connection, tables, row, timezone, now)))
