"""The reader's table: one row per read session of a token (``{prefix}local_alxbridge_read_session``).

A session pins what a paged download means — mode, version window, settings — from ``offset=0``
until a short page ends it, so that paging never loses or repeats rows when the data moves.
"""

from .xmldb import TableSpec, char, index, integer, text

READ_SESSION = TableSpec(
    "local_alxbridge_read_session",
    "Paged downloads of a token: mode, version window and page positions from offset 0 to the short last page",
    (
        char("token_hash", 64),  # sha256 of the wstoken that opened it
        integer("companyid"),
        char("mode", 20),  # full | incremental
        integer("low_version", default="0"),  # rows changed after this version (incremental)
        integer("high_version", default="0"),  # ... and up to this committed version
        integer("max_id", default="0"),  # full sessions list reporting rows with id <= max_id
        integer("page_limit"),
        char("settings_digest", 64),  # fields and courses the session serves
        text("settings", notnull=True),  # JSON: {"fields": [...], "courses": [...]}
        text("bookmarks", notnull=True),  # JSON: {offset: last reporting id before that page}
        integer("rows_served", default="0"),
        char("status", 20, default="open"),  # open | completed
        integer("timeopened"),
        integer("timeused"),
        integer("timeclosed", default="0"),
    ),
    (
        index("token_hash_companyid", "token_hash", "companyid"),
        index("status_timeused", "status", "timeused"),
    ),
)

READING_TABLES = (READ_SESSION,)
