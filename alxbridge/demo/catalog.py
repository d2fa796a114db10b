"""Fixed content of the demo site: settings, roles, services, and the names people and courses get.

Values mirror the reference Moodle 4.1 + IOMAD + ALX Report API site
(``/work/shared/data/moodle-reference/db-site.tsv``) so the bridge sees what a real install holds.
The name lists deliberately mix scripts, accents, emoji and HTML-looking text: reports and APIs
must carry them through unchanged.
"""

MARKER = "alxbridge_demo_seed"  # mdl_config row that tells a demo site from a real one
PLUGIN = "local_alx_report_api"
ALX_SERVICE = "alx_report_api_custom"
PROGRESS_FUNCTION = "local_alx_report_api_get_course_progress"
SITE_INFO_FUNCTION = "core_webservice_get_site_info"
IP_RESTRICTION = "10.99.0.0/16"
NEVER_ENDS = 2147483647  # user_enrolments.timeend column default

SITE_CONFIG = (
    ("enablewebservices", "1"),
    ("webserviceprotocols", "rest"),
    ("siteadmins", "2"),
    ("timezone", "Asia/Kolkata"),
    ("forcetimezone", "99"),
    ("version", "2022112810"),
    ("release", "4.1.10 (Build: 20240422)"),
    ("debug", "0"),
    ("debugdisplay", "0"),
    ("maintenance_enabled", "0"),
    ("siteguest", "1"),
    ("mnet_localhost_id", "1"),
    ("defaultuserroleid", "7"),
)

# The plugin's install defaults (settings.php), plus allow_get_method 1 as on the reference site.
PLUGIN_CONFIG = (
    ("max_records", "1000"),
    ("rate_limit", "100"),
    ("allow_get_method", "1"),
    ("enable_alerting", "1"),
    ("enable_email_alerts", "1"),
    ("alert_threshold", "medium"),
    ("alert_emails", ""),
    ("alert_cooldown", "60"),
    ("auto_sync_hours", "1"),
    ("max_sync_time", "300"),
    ("log_retention_days", "90"),
    ("high_api_usage_threshold", "200"),
    ("health_score_threshold", "70"),
    ("db_response_time_threshold", "200"),
    ("version", "2024100801"),
)

# Other plugins' settings a Moodle install writes: the standard log store enabled (Moodle's default), so the
# sync tick can follow the events the demo's activity simulator logs, as it follows a real site's.
OTHER_PLUGIN_CONFIG = (("tool_log", "enabled_stores", "logstore_standard"),)

# Moodle creates its standard roles with empty names (the UI shows language strings); IOMAD adds two.
ROLES = (
    # id, name, shortname, archetype
    (1, "", "manager", "manager"),
    (2, "", "coursecreator", "coursecreator"),
    (3, "", "editingteacher", "editingteacher"),
    (4, "", "teacher", "teacher"),
    (5, "", "student", "student"),
    (6, "", "guest", "guest"),
    (7, "", "user", "user"),
    (8, "", "frontpage", "frontpage"),
    (9, "Company Manager", "companymanager", ""),
    (10, "Company Department Manager", "companydepartmentmanager", ""),
)
STUDENT_ROLE = 5
USER_ROLE = 7

EXTERNAL_FUNCTIONS = (
    # name, classname, methodname, component
    (PROGRESS_FUNCTION, "local_alx_report_api_external", "get_course_progress", PLUGIN),
    (SITE_INFO_FUNCTION, "core_webservice_external", "get_site_info", "moodle"),
)

# key, name, shortname, enabled, component, functions. The key names the service for tokens.
EXTERNAL_SERVICES = (
    ("mobile", "Moodle mobile web service", "moodle_mobile_app", 0, "moodle", (SITE_INFO_FUNCTION,)),
    ("alx", "ALX Report API Custom Service", ALX_SERVICE, 1, None, (PROGRESS_FUNCTION, SITE_INFO_FUNCTION)),
    ("other", "Site information only", "site_info_only", 1, None, (SITE_INFO_FUNCTION,)),
    ("disabled", "ALX Report API (switched off)", "alx_report_api_disabled", 0, None, (PROGRESS_FUNCTION,)),
)

# name, shortname, city, country; more companies are numbered (see site.company_plans).
COMPANIES = (
    ("Betterwork Learning", "BWL", "Pune", "IN"),
    ("TechCorp Training", "TCT", "Leeds", "GB"),
    ("EduCenter Global", "EDU", "Lyon", "FR"),
    ("Müller & Söhne GmbH", "MUS", "München", "DE"),
    ("Nordlys Helse", "NLH", "Tromsø", "NO"),
    ("Sakura Logistics", "SKL", "Ōsaka", "JP"),
    ("Andes Mining Co", "AMC", "Antofagasta", "CL"),
    ("Lagos Fintech Academy", "LFA", "Lagos", "NG"),
)
EXTRA_COMPANY_CITIES = (("Chennai", "IN"), ("Bristol", "GB"), ("Nantes", "FR"), ("Leipzig", "DE"))

# fullname, shortname stem; later courses reuse the list with an edition number.
COURSES = (
    ("Workplace Safety Essentials", "SAFE"),
    ("Compliance & Ethics", "COMP"),
    ("Leadership <Development> & Co", "LEAD"),
    ("Data Protection (GDPR)", "GDPR"),
    ("Sécurité au travail", "SECU"),
    ("データ保護入門", "DPJP"),
    ("Customer Service Excellence", "CUST"),
    ("Anti-Bribery Awareness", "ABAC"),
    ("First Aid at Work", "FAID"),
    ("Cyber Security Basics", "CYBR"),
    ("Diversity & Inclusion", "DIVI"),
    ("Project Management Fundamentals", "PMGT"),
    ("Fire Safety", "FIRE"),
    ("Manual Handling", "MANH"),
    ("Onboarding: Your First Week", "ONBD"),
    ("Effective Communication", "COMM"),
)

# Activity types: Moodle modules.id (as on the reference site: forum 10, quiz 17) and whether the
# type can complete on a grade (completion 2 with pass/fail states).
MODULES = {
    "assign": 1,
    "book": 4,
    "forum": 10,
    "h5pactivity": 12,
    "lesson": 14,
    "page": 16,
    "quiz": 17,
    "resource": 18,
    "scorm": 19,
    "url": 21,
}
ACTIVITY_TYPES = ("quiz", "assign", "page", "scorm", "resource", "h5pactivity", "lesson", "url", "book")

FIRST_NAMES = (
    "Aarav",
    "Ananya",
    "Ravi",
    "Priya",
    "Mei",
    "Wei",
    "Zoë",
    "José",
    "Amélie",
    "Søren",
    "Łukasz",
    "Fatima",
    "Omar",
    "Emma",
    "Liam",
    "Noah",
    "Olivia",
    "Chloé",
    "Jürgen",
    "Siobhán",
    "Kwame",
    "Aiko",
    "Hiroshi",
    "Ingrid",
    "Björn",
    "Nadia",
    "Mateo",
    "Lucía",
    "Grace",
    "Ólafur",
)
LAST_NAMES = (
    "Kumar",
    "Sharma",
    "Patel",
    "Lin",
    "Chen",
    "Ångström",
    "Ødegård",
    "García",
    "Dubois",
    "Müller",
    "Kowalski",
    "Nguyễn",
    "O'Brien",
    "Smith",
    "Jones",
    "Williams",
    "Brown",
    "Taylor",
    "Okafor",
    "Tanaka",
    "Sato",
    "Johansson",
    "Lefèvre",
    "Rossi",
    "Novák",
    "Silva",
    "Hernández",
    "Murphy",
    "van der Berg",
    "Al-Sayed",
)
# (firstname, lastname) written in their own scripts; some people get one of these.
NATIVE_SCRIPT_NAMES = (
    ("雷", "李"),
    ("伟", "王"),
    ("芳", "张"),
    ("さくら", "山田"),
    ("Дмитрий", "Иванов"),
    ("Νίκος", "Παπαδόπουλος"),
    ("יעל", "כהן"),
    ("محمد", "العلي"),
)

# People every demo has, whatever its size: edge cases the bridge must handle, and token owners.
# key, firstname, lastname, company (index into the companies, None = none), suspended, deleted.
SPECIAL_PEOPLE = (
    ("loner", "Lone", "Wolf", None, 0, 0),
    ("unicode", "Zoë", "Ångström", 0, 0, 0),
    ("chinese", "雷", "李", 1, 0, 0),
    ("nordic", "Ølaf", "Ødegård", 2, 0, 0),
    ("bold", "<b>Bold</b>", "O'Brien", 0, 0, 0),
    ("script", "<script>alert(1)</script>", "Tester", 0, 0, 0),
    ("emoji", "Ana", "Lima 🎓", 1, 0, 0),
    ("expired", "Erin", "Expired", 0, 0, 0),
    ("iplimited", "Ian", "Iprange", 0, 0, 0),
    ("suspended", "Sam", "Suspended", 0, 1, 0),
    ("deleted", "Del", "Eted", 0, 0, 1),
    ("disabled", "Dana", "Disabledservice", 0, 0, 0),
    ("other", "Otto", "Otherservice", 0, 0, 0),
)
