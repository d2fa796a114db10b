"""The database connection, statements built once, and atomic upserts: no Moodle knowledge here."""
