"""Response headers that say what a ``get_course_progress`` answer is, for clients that merge answers.

A bare JSON list cannot say whether it is the whole dataset or only the rows changed since the token's
last answer; these headers do. Moodle's clients ignore headers they do not know, and the body stays
byte for byte the plugin's. Every page of a read session carries the session's values:

- ``X-ALX-Sync-Mode``: ``full`` (replace the copy) or ``incremental`` (upsert the rows by user and course);
- ``X-ALX-Sync-Since``: the version an incremental answer continues from (``0`` for a full one);
- ``X-ALX-Sync-Version``: the version the answer brings the client to (``0`` before the company's first sync).
"""

from .sessions import FULL

MODE, SINCE, VERSION = "X-ALX-Sync-Mode", "X-ALX-Sync-Since", "X-ALX-Sync-Version"


def sync_headers(mode, since, version):
    """The headers, in this order, after Moodle's own."""
    return ((MODE, mode), (SINCE, str(since)), (VERSION, str(version)))


LIVE_HEADERS = sync_headers(FULL, 0, 0)  # before the first sync every answer is read live, in full
