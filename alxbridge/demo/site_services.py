"""The demo site's configuration and web services: site and plugin settings, roles, external services, tokens."""

from . import catalog
from .credentials import private_token, token
from .site_model import DAY, SITE_AGE


class SettingsAndServiceRows:
    """Part of :class:`~alxbridge.demo.site.SiteGenerator`: uses its ``rng``, ``now``, ``spec``, ``new_id``,
    ``days_ago``
    and the records earlier parts filled in (``companies``, ``courses``, ``owners``, ``managers``)."""

    def settings(self):
        """Site config (with the demo marker), the plugin's defaults, the log store, roles and the REST capability."""
        for name, value in (*catalog.SITE_CONFIG, (catalog.MARKER, str(self.spec.seed))):
            yield "config", {"id": self.new_id("config"), "name": name, "value": value}
        plugin_config = [(catalog.PLUGIN, name, value) for name, value in catalog.PLUGIN_CONFIG]
        for plugin, name, value in (*plugin_config, *catalog.OTHER_PLUGIN_CONFIG):
            row = {"id": self.new_id("config_plugins"), "plugin": plugin, "name": name, "value": value}
            yield "config_plugins", row
        for role_id, name, shortname, archetype in catalog.ROLES:
            yield (
                "role",
                {
                    "id": role_id,
                    "name": name,
                    "shortname": shortname,
                    "description": "",
                    "sortorder": role_id,
                    "archetype": archetype,
                },
            )
        yield (
            "role_capabilities",
            {
                "id": self.new_id("role_capabilities"),
                "contextid": 1,
                "roleid": catalog.USER_ROLE,
                "capability": "webservice/rest:use",
                "permission": 1,
                "timemodified": self.now - SITE_AGE,
                "modifierid": 2,
            },
        )

    def service_rows(self):
        """The plugin's function, its services and the tokens: one valid per company plus edge cases."""
        created = self.now - SITE_AGE
        for name, classname, methodname, component in catalog.EXTERNAL_FUNCTIONS:
            yield (
                "external_functions",
                {
                    "id": self.new_id("external_functions"),
                    "name": name,
                    "classname": classname,
                    "methodname": methodname,
                    "classpath": None,
                    "component": component,
                    "capabilities": "",
                    "services": None,
                },
            )
        service_ids = {}
        for key, name, shortname, enabled, component, functions in catalog.EXTERNAL_SERVICES:
            service_ids[key] = self.new_id("external_services")
            yield (
                "external_services",
                {
                    "id": service_ids[key],
                    "name": name,
                    "enabled": enabled,
                    "requiredcapability": None,
                    "restrictedusers": 0,
                    "component": component,
                    "timecreated": created,
                    "timemodified": created,
                    "shortname": shortname,
                    "downloadfiles": int(key == "mobile"),
                    "uploadfiles": int(key == "mobile"),
                },
            )
            for function in functions:
                yield (
                    "external_services_functions",
                    {
                        "id": self.new_id("external_services_functions"),
                        "externalserviceid": service_ids[key],
                        "functionname": function,
                    },
                )
        tokens = [(self.managers[c.id], "alx", {}) for c in self.companies]
        tokens += [
            (self.owners["expired"], "alx", {"validuntil": self.now - DAY}),
            (self.owners["iplimited"], "alx", {"iprestriction": catalog.IP_RESTRICTION}),
            (self.owners["suspended"], "alx", {}),
            (self.owners["loner"], "alx", {}),
            (self.owners["disabled"], "disabled", {}),
            (self.owners["other"], "other", {}),
        ]
        for userid, service, overrides in tokens:
            number = self.new_id("external_tokens")
            yield (
                "external_tokens",
                {
                    "id": number,
                    "token": token(self.credentials_key, self.spec.seed, number),
                    "privatetoken": private_token(self.credentials_key, self.spec.seed, number),
                    "tokentype": 0,
                    "userid": userid,
                    "externalserviceid": service_ids[service],
                    "sid": None,
                    "contextid": 1,
                    "creatorid": 2,
                    "iprestriction": None,
                    "validuntil": 0,
                    "timecreated": self.days_ago(30, 90),
                    "lastaccess": None,
                    **overrides,
                },
            )
