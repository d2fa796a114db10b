"""The bridge's own tables (``{prefix}local_alxbridge_*``): state the plugin's tables have no room for.

The plugin's six tables stay exactly as its ``install.xml`` defines them; everything the single
writer needs to be exact and restartable (committed versions per company, source fingerprints,
run records, job locks), and the admin pages' server-side sessions, live here, declared with the
same XMLDB rules so ``repair-tables`` treats them like the plugin's.
"""

from .xmldb import TableSpec, char, index, integer, text, unique

SYNC_COMPANY = TableSpec(
    "local_alxbridge_company",
    "Sync state per company: the committed version readers may serve up to, and what the next run must redo",
    (
        integer("companyid"),
        # Every reporting row of the company with last_updated <= committed_version is committed.
        integer("committed_version", default="0"),
        # Tombstones with last_updated <= tombstone_horizon were purged: a reader acknowledged below it must go full.
        integer("tombstone_horizon", default="0"),
        # Start time of the last successful sync of the company: where the next change shortlist begins.
        integer("source_watermark", default="0"),
        # Start time of the last successful full recompute (daily reconciliation is due 24 h later).
        integer("last_full", default="0"),
        # IOMAD's membership and course rows carry no timestamps: the next run diffs against these.
        char("members_digest", 40),
        text("exposed_courses"),  # comma-separated course ids, as of the last sync
        integer("needs_full", 1, default="0"),
        integer("failures", default="0"),
        text("last_error"),
        integer("timemodified", default="0"),
        # Part of every cached answer's key: "Clear API cache" bumps it, so no process serves the old entries.
        integer("cache_generation", default="0"),
    ),
    (unique("companyid", "companyid"),),
)

SYNC_COURSE = TableSpec(
    "local_alxbridge_course",
    "Digests per course of enrolments, course completions and trackable modules as of the last sync",
    (
        integer("courseid"),
        # Deleted enrolments and back-dated completions leave no timestamp; a changed digest says where to
        # look. Enrolments and completions are digested per bucket of users ("bucket:digest,…").
        text("enrolments"),
        text("completions"),
        char("modules", 40),
        integer("timemodified", default="0"),
    ),
    (unique("courseid", "courseid"),),
)

SYNC_RUN = TableSpec(
    "local_alxbridge_sync_run",
    "One row per sync run: what it covered, the version it wrote and what it changed",
    (
        char("mode", 20),  # full | auto
        char("origin", 20),  # cli | scheduler
        integer("companyid", default="0"),  # 0 = every company
        integer("version", default="0"),
        char("status", 20, default="running"),  # running | success | failed | aborted
        char("host", 255),
        integer("timestarted"),
        integer("timefinished", default="0"),
        integer("companies", default="0"),
        integer("companies_full", default="0"),
        integer("companies_failed", default="0"),
        integer("records_created", default="0"),
        integer("records_updated", default="0"),
        integer("records_deleted", default="0"),
        text("message"),
    ),
    (
        index("timestarted", "timestarted"),
        index("status", "status"),
    ),
)

JOB = TableSpec(
    "local_alxbridge_job",
    "Scheduled jobs: last run per job, and the lock row used where the database has no named locks",
    (
        char("name", 50),
        char("lock_owner", 64, notnull=False),
        integer("lock_expires", default="0"),
        integer("last_slot", default="0"),
        char("last_status", 20),
        text("last_message"),
        integer("timestarted", default="0"),
        integer("timefinished", default="0"),
    ),
    (unique("name", "name"),),
)

LOG_TAIL = TableSpec(
    "local_alxbridge_log_tail",
    "The sync tick's place in Moodle's standard log, and the figures of its last tick",
    (
        char("store", 50),  # the log store followed: logstore_standard
        # Every event with an id up to last_logid was read, except missing_ids: ids below it not yet
        # visible (a transaction still open), as JSON {id: unix time first missed}, waited for a while.
        integer("last_logid", default="0"),
        text("missing_ids"),
        integer("last_slot", default="0"),  # the tick slot (now // interval * interval) that ran last
        integer("newest_event", default="0"),  # timecreated of the newest event read
        integer("events_read", default="0"),  # by the last tick, all kinds
        integer("progress_events", default="0"),  # by the last tick, the kinds that move progress
        integer("rows_changed", default="0"),  # by the last tick
        integer("duration_ms", default="0"),  # of the last tick
        integer("timeticked", default="0"),  # when the last tick finished reading the log
        text("last_error"),
    ),
    (unique("store", "store"),),
)


ADMIN_SESSION = TableSpec(
    "local_alxbridge_admin_session",
    "Signed-in admin page sessions: a session cookie is valid only while its row exists",
    (
        char("sid_hash", 64),  # sha256 of the random session id in the signed cookie
        integer("userid"),
        integer("timecreated"),  # the absolute lifetime counts from here
    ),
    (
        unique("sid_hash", "sid_hash"),
        index("timecreated", "timecreated"),
    ),
)

DAILY_QUOTA = TableSpec(
    "local_alxbridge_quota",
    "The daily quota's count per token owner and local day, admitted with one conditional update",
    (
        integer("userid"),
        integer("day"),  # the unix time of the local midnight the day starts at (site timezone)
        # The plugin's count: the user's calls logged since that midnight (the day's first rejection included).
        integer("calls", default="0"),
        integer("timemodified", default="0"),
    ),
    # No index on day alone: the update must find its row through the unique key (an index on day let MariaDB
    # lock rows of other users and deadlock); retention scans this small table.
    (unique("userid_day", "userid", "day"),),
)

COMPANY_SETTING = TableSpec(
    "local_alxbridge_company_setting",
    "Company settings whose value the plugin's TINYINT setting_value cannot hold (e.g. a daily limit above 127)",
    (
        integer("companyid"),
        char("setting_name", 255),
        integer("setting_value"),  # wins over the plugin's row of the same name, which keeps the nearest value it holds
        integer("timemodified", default="0"),
    ),
    (unique("companyid_setting", "companyid", "setting_name"),),
)

AUTH_REFUSAL = TableSpec(
    "local_alxbridge_refusal",
    "Web service calls refused before any function ran (bad or expired token, abuse shield), per minute and source",
    (
        integer("timeminute"),  # the minute (unix time, a multiple of 60) the attempts fell in
        char("ip_address", 45),
        char("reason", 30),  # invalid token | expired token | IP not allowed | … | blocked by the abuse shield
        # The first 8 hex digits of the token's SHA-256 (empty without a token): tells tokens apart, reveals none.
        char("token_prefix", 8),
        integer("attempts", default="0"),
        integer("timelast", default="0"),
    ),
    (
        unique("minute_source", "timeminute", "ip_address", "reason", "token_prefix"),
        index("timelast", "timelast"),
    ),
)

ALERT_HANDLING = TableSpec(
    "local_alxbridge_alert_handling",
    "Who acknowledged or resolved an alert on the admin pages (the plugin's alerts table keeps only 'resolved')",
    (
        integer("alertid"),  # local_alx_api_alerts.id
        integer("acknowledgedby", default="0"),  # user id of the admin, 0 while not acknowledged
        integer("timeacknowledged", default="0"),
        integer("resolvedby", default="0"),  # 0: not resolved by an admin (the alert check may have resolved it)
        integer("timeresolved", default="0"),
    ),
    (unique("alertid", "alertid"),),
)

BRIDGE_TABLES = (
    SYNC_COMPANY, SYNC_COURSE, SYNC_RUN, JOB, LOG_TAIL, ADMIN_SESSION, DAILY_QUOTA, COMPANY_SETTING, AUTH_REFUSAL,
    ALERT_HANDLING,
)  # fmt: skip
