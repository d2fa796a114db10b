"""Statements built once per table set and then executed with bind parameters.

For the small queries of a web service call, building a SQLAlchemy statement and computing its
cache key cost about as much as the round trip to MariaDB. A statement object built once keeps its
memoised cache key, so executing it again skips both; only the parameters change.
"""

import functools


def prebuilt(builder):
    """Decorate ``builder(tables)`` so it runs once per table set (per database prefix).

    The statement is kept on the table namespace itself, so it lives exactly as long as that schema.
    """

    @functools.wraps(builder)
    def statement(tables):
        built = tables.__dict__.setdefault("_prebuilt_statements", {})
        if builder not in built:
            built[builder] = builder(tables)
        return built[builder]

    return statement
