"""The Moodle core tables the bridge reads, as Moodle 4.1's ``lib/db/install.xml`` defines them.

The bridge never writes to these on a real site (except ``external_tokens.lastaccess``, as Moodle
does); they are declared in full so the demo site and the test databases look like a real Moodle.
Column sets drift between Moodle versions, so queries name their columns and never select ``*``.
"""

from .xmldb import TableSpec, char, index, integer, number, text, unique

USER = TableSpec(
    "user",
    "One record for each person",
    (
        char("auth", 20, default="manual"),
        integer("confirmed", 1, default="0"),
        integer("policyagreed", 1, default="0"),
        integer("deleted", 1, default="0"),
        integer("suspended", 1, default="0"),
        integer("mnethostid", default="0"),
        char("username", 100),
        char("password", 255),
        char("idnumber", 255),
        char("firstname", 100),
        char("lastname", 100),
        char("email", 100),
        integer("emailstop", 1, default="0"),
        char("phone1", 20),
        char("phone2", 20),
        char("institution", 255),
        char("department", 255),
        char("address", 255),
        char("city", 120),
        char("country", 2),
        char("lang", 30, default="en"),
        char("calendartype", 30, default="gregorian"),
        char("theme", 50),
        char("timezone", 100, default="99"),
        integer("firstaccess", default="0"),
        integer("lastaccess", default="0"),
        integer("lastlogin", default="0"),
        integer("currentlogin", default="0"),
        char("lastip", 45),
        char("secret", 15),
        integer("picture", default="0"),
        text("description"),
        integer("descriptionformat", 2, default="1"),
        integer("mailformat", 1, default="1"),
        integer("maildigest", 1, default="0"),
        integer("maildisplay", 2, default="2"),
        integer("autosubscribe", 1, default="1"),
        integer("trackforums", 1, default="0"),
        integer("timecreated", default="0"),
        integer("timemodified", default="0"),
        integer("trustbitmask", default="0"),
        char("imagealt", 255, notnull=False),
        char("lastnamephonetic", 255, notnull=False),
        char("firstnamephonetic", 255, notnull=False),
        char("middlename", 255, notnull=False),
        char("alternatename", 255, notnull=False),
        char("moodlenetprofile", 255, notnull=False),
    ),
    (
        unique("mnethostid_username", "mnethostid", "username"),
        index("deleted", "deleted"),
        index("confirmed", "confirmed"),
        index("firstname", "firstname"),
        index("lastname", "lastname"),
        index("city", "city"),
        index("country", "country"),
        index("lastaccess", "lastaccess"),
        index("email", "email"),
        index("auth", "auth"),
        index("idnumber", "idnumber"),
        index("firstnamephonetic", "firstnamephonetic"),
        index("lastnamephonetic", "lastnamephonetic"),
        index("middlename", "middlename"),
        index("alternatename", "alternatename"),
    ),
)

COURSE = TableSpec(
    "course",
    "Central course table",
    (
        integer("category", default="0"),
        integer("sortorder", default="0"),
        char("fullname", 254),
        char("shortname", 255),
        char("idnumber", 100),
        text("summary"),
        integer("summaryformat", 2, default="0"),
        char("format", 21, default="topics"),
        integer("showgrades", 2, default="1"),
        integer("newsitems", 5, default="1"),
        integer("startdate", default="0"),
        integer("enddate", default="0"),
        integer("relativedatesmode", 1, default="0"),
        integer("marker", default="0"),
        integer("maxbytes", default="0"),
        integer("legacyfiles", 4, default="0"),
        integer("showreports", 4, default="0"),
        integer("visible", 1, default="1"),
        integer("visibleold", 1, default="1"),
        integer("downloadcontent", 1, notnull=False),
        integer("groupmode", 4, default="0"),
        integer("groupmodeforce", 4, default="0"),
        integer("defaultgroupingid", default="0"),
        char("lang", 30),
        char("calendartype", 30),
        char("theme", 50),
        integer("timecreated", default="0"),
        integer("timemodified", default="0"),
        integer("requested", 1, default="0"),
        integer("enablecompletion", 1, default="0"),
        integer("completionnotify", 1, default="0"),
        integer("cacherev", default="0"),
        integer("originalcourseid", notnull=False),
        integer("showactivitydates", 1, default="0"),
        integer("showcompletionconditions", 1, notnull=False),
    ),
    (
        index("category", "category"),
        index("idnumber", "idnumber"),
        index("shortname", "shortname"),
        index("sortorder", "sortorder"),
    ),
)

COURSE_COMPLETIONS = TableSpec(
    "course_completions",
    "Course completion records",
    (
        integer("userid", default="0"),
        integer("course", default="0"),
        integer("timeenrolled", default="0"),
        integer("timestarted", default="0"),
        integer("timecompleted", notnull=False),
        integer("reaggregate", default="0"),
    ),
    (
        unique("userid_course", "userid", "course"),
        index("userid", "userid"),
        index("course", "course"),
        index("timecompleted", "timecompleted"),
    ),
)

COURSE_MODULES = TableSpec(
    "course_modules",
    "Course modules: one row per activity or resource in a course",
    (
        integer("course", default="0"),
        integer("module", default="0"),
        integer("instance", default="0"),
        integer("section", default="0"),
        char("idnumber", 100, notnull=False),
        integer("added", default="0"),
        integer("score", 4, default="0"),
        integer("indent", 5, default="0"),
        integer("visible", 1, default="1"),
        integer("visibleoncoursepage", 1, default="1"),
        integer("visibleold", 1, default="1"),
        integer("groupmode", 4, default="0"),
        integer("groupingid", default="0"),
        integer("completion", 1, default="0"),
        integer("completiongradeitemnumber", notnull=False),
        integer("completionview", 1, default="0"),
        integer("completionexpected", default="0"),
        integer("completionpassgrade", 1, default="0"),
        integer("showdescription", 1, default="0"),
        text("availability"),
        integer("deletioninprogress", 1, default="0"),
        integer("downloadcontent", 1, notnull=False, default="1"),
        char("lang", 30, notnull=False),
    ),
    (
        index("course", "course"),
        index("module", "module"),
        index("instance", "instance"),
        index("idnumber_course", "idnumber", "course"),
        index("visible", "visible"),
    ),
)

COURSE_MODULES_COMPLETION = TableSpec(
    "course_modules_completion",
    "Completion state of each user in each course module",
    (
        integer("coursemoduleid"),
        integer("userid"),
        integer("completionstate", 1),
        integer("overrideby", notnull=False),
        integer("timemodified"),
    ),
    (
        unique("userid_coursemoduleid", "userid", "coursemoduleid"),
        index("coursemoduleid", "coursemoduleid"),
    ),
)

ENROL = TableSpec(
    "enrol",
    "Enrolment method instances of each course",
    (
        char("enrol", 20),
        integer("status", default="0"),
        integer("courseid"),
        integer("sortorder", default="0"),
        char("name", 255, notnull=False),
        integer("enrolperiod", notnull=False, default="0"),
        integer("enrolstartdate", notnull=False, default="0"),
        integer("enrolenddate", notnull=False, default="0"),
        integer("expirynotify", 1, notnull=False, default="0"),
        integer("expirythreshold", notnull=False, default="0"),
        integer("notifyall", 1, notnull=False, default="0"),
        char("password", 50, notnull=False),
        char("cost", 20, notnull=False),
        char("currency", 3, notnull=False),
        integer("roleid", notnull=False, default="0"),
        *(integer(f"customint{i}", notnull=False) for i in range(1, 9)),
        char("customchar1", 255, notnull=False),
        char("customchar2", 255, notnull=False),
        char("customchar3", 1333, notnull=False),
        number("customdec1", 12, 7, notnull=False),
        number("customdec2", 12, 7, notnull=False),
        *(text(f"customtext{i}") for i in range(1, 5)),
        integer("timecreated", default="0"),
        integer("timemodified", default="0"),
    ),
    (
        index("enrol", "enrol"),
        index("courseid", "courseid"),
    ),
)

USER_ENROLMENTS = TableSpec(
    "user_enrolments",
    "Users participating in courses through an enrolment instance",
    (
        integer("status", default="0"),
        integer("enrolid"),
        integer("userid"),
        integer("timestart", default="0"),
        integer("timeend", default="2147483647"),
        integer("modifierid", default="0"),
        integer("timecreated", default="0"),
        integer("timemodified", default="0"),
    ),
    (
        unique("enrolid_userid", "enrolid", "userid"),
        index("enrolid", "enrolid"),
        index("userid", "userid"),
        index("modifierid", "modifierid"),
    ),
)

CONTEXT = TableSpec(
    "context",
    "One entry per context in the system: system, user, category, course, module, block",
    (
        integer("contextlevel", default="0"),
        integer("instanceid", default="0"),
        char("path", 255, notnull=False),
        integer("depth", 2, default="0"),
        integer("locked", 2, default="0"),
    ),
    (
        unique("contextlevel_instanceid", "contextlevel", "instanceid"),
        index("instanceid", "instanceid"),
        index("path", "path"),
    ),
)

CONFIG = TableSpec(
    "config",
    "Moodle configuration variables",
    (char("name", 255), text("value", notnull=True)),
    (unique("name", "name"),),
)

CONFIG_PLUGINS = TableSpec(
    "config_plugins",
    "Moodle modules and plugins configuration variables",
    (char("plugin", 100, default="core"), char("name", 100), text("value", notnull=True)),
    (unique("plugin_name", "plugin", "name"),),
)

ROLE = TableSpec(
    "role",
    "Moodle roles",
    (
        char("name", 255),
        char("shortname", 100),
        text("description", notnull=True),
        integer("sortorder", default="0"),
        char("archetype", 30),
    ),
    (unique("sortorder", "sortorder"), unique("shortname", "shortname")),
)

ROLE_ASSIGNMENTS = TableSpec(
    "role_assignments",
    "Assigning roles in different contexts",
    (
        integer("roleid", default="0"),
        integer("contextid", default="0"),
        integer("userid", default="0"),
        integer("timemodified", default="0"),
        integer("modifierid", default="0"),
        char("component", 100),
        integer("itemid", default="0"),
        integer("sortorder", default="0"),
    ),
    (
        index("sortorder", "sortorder"),
        index("roleid", "roleid"),
        index("contextid", "contextid"),
        index("userid", "userid"),
        index("rolecontext", "roleid", "contextid"),
        index("usercontextrole", "userid", "contextid", "roleid"),
    ),
)

ROLE_CAPABILITIES = TableSpec(
    "role_capabilities",
    "Permission of a role for a capability in a context",
    (
        integer("contextid", default="0"),
        integer("roleid", default="0"),
        char("capability", 255),
        integer("permission", default="0"),
        integer("timemodified", default="0"),
        integer("modifierid", default="0"),
    ),
    (
        unique("roleid_contextid_capability", "roleid", "contextid", "capability"),
        index("roleid", "roleid"),
        index("contextid", "contextid"),
        index("modifierid", "modifierid"),
        index("capability", "capability"),
    ),
)

EXTERNAL_FUNCTIONS = TableSpec(
    "external_functions",
    "List of all external functions",
    (
        char("name", 200),
        char("classname", 100),
        char("methodname", 100),
        char("classpath", 255, notnull=False),
        char("component", 100),
        char("capabilities", 255, notnull=False),
        char("services", 1333, notnull=False),
    ),
    (unique("name", "name"),),
)

EXTERNAL_SERVICES = TableSpec(
    "external_services",
    "Built-in and custom external services",
    (
        char("name", 200),
        integer("enabled", 1),
        char("requiredcapability", 150, notnull=False),
        integer("restrictedusers", 1),
        char("component", 100, notnull=False),
        integer("timecreated"),
        integer("timemodified", notnull=False),
        char("shortname", 255, notnull=False),
        integer("downloadfiles", 1, default="0"),
        integer("uploadfiles", 1, default="0"),
    ),
    (unique("name", "name"),),
)

EXTERNAL_SERVICES_FUNCTIONS = TableSpec(
    "external_services_functions",
    "Functions of each external service",
    (integer("externalserviceid"), char("functionname", 200)),
    (index("externalserviceid", "externalserviceid"),),
)

EXTERNAL_SERVICES_USERS = TableSpec(
    "external_services_users",
    "Users allowed to use services with restricted users flag",
    (
        integer("externalserviceid"),
        integer("userid"),
        char("iprestriction", 255, notnull=False),
        integer("validuntil", notnull=False),
        integer("timecreated", notnull=False),
    ),
    (index("externalserviceid", "externalserviceid"), index("userid", "userid")),
)

EXTERNAL_TOKENS = TableSpec(
    "external_tokens",
    "Security tokens for accessing of external services",
    (
        char("token", 128),
        char("privatetoken", 64, notnull=False),
        integer("tokentype", 4),
        integer("userid"),
        integer("externalserviceid"),
        char("sid", 128, notnull=False),
        integer("contextid"),
        integer("creatorid", default="1"),
        char("iprestriction", 255, notnull=False),
        integer("validuntil", notnull=False),
        integer("timecreated"),
        integer("lastaccess", notnull=False),
    ),
    (
        index("token", "token"),
        index("sid", "sid"),
        index("userid", "userid"),
        index("externalserviceid", "externalserviceid"),
        index("contextid", "contextid"),
        index("creatorid", "creatorid"),
    ),
)

USER_PRIVATE_KEY = TableSpec(
    "user_private_key",
    "Access keys used in cookieless scripts (RSS, file downloads)",
    (
        char("script", 128),
        char("value", 128),
        integer("userid"),
        integer("instance", notnull=False),
        char("iprestriction", 255, notnull=False),
        integer("validuntil", notnull=False),
        integer("timecreated", notnull=False),
    ),
    (index("script_value", "script", "value"), index("userid", "userid")),
)

LOGSTORE_STANDARD_LOG = TableSpec(
    "logstore_standard_log",
    "Standard log table (admin/tool/log/store/standard): one row per event",
    (
        char("eventname", 255),
        char("component", 100),
        char("action", 100),
        char("target", 100),
        char("objecttable", 50, notnull=False),
        integer("objectid", notnull=False),
        char("crud", 1),
        integer("edulevel", 1),
        integer("contextid"),
        integer("contextlevel"),
        integer("contextinstanceid"),
        integer("userid"),
        integer("courseid", notnull=False),
        integer("relateduserid", notnull=False),
        integer("anonymous", 1, default="0"),
        text("other"),
        integer("timecreated"),
        char("origin", 10, notnull=False),
        char("ip", 45, notnull=False),
        integer("realuserid", notnull=False),
    ),
    (
        index("timecreated", "timecreated"),
        index("course-time", "courseid", "anonymous", "timecreated"),
        index("user-module", "userid", "contextlevel", "contextinstanceid", "crud", "edulevel", "timecreated"),
    ),
)

# Core tables a site may lack (the standard log store can be uninstalled): read only when present.
OPTIONAL_CORE_TABLES = ("logstore_standard_log",)

MOODLE_CORE_TABLES = (
    CONFIG,
    CONFIG_PLUGINS,
    USER,
    COURSE,
    COURSE_MODULES,
    COURSE_COMPLETIONS,
    COURSE_MODULES_COMPLETION,
    ENROL,
    USER_ENROLMENTS,
    CONTEXT,
    ROLE,
    ROLE_ASSIGNMENTS,
    ROLE_CAPABILITIES,
    EXTERNAL_FUNCTIONS,
    EXTERNAL_SERVICES,
    EXTERNAL_SERVICES_FUNCTIONS,
    EXTERNAL_SERVICES_USERS,
    EXTERNAL_TOKENS,
    USER_PRIVATE_KEY,
    LOGSTORE_STANDARD_LOG,
)
