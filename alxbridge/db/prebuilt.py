"""Statements built once per table set and then executed with bind parameters.

For the small queries of a web service call, building a SQLAlchemy statement and computing its
cache key cost about as much as the round trip to MariaDB. A statement object built once keeps its
memoised cache key, so executing it again skips both; only the parameters change.
"""

import functools


def prebuilt(builder):
    """Decorate ``builder(tables, *options)`` so it runs once per table set (per database prefix) and options
    (hashable, e.g. the dialect's name).

    The statement is kept on the table namespace itself, so it lives exactly as long as that schema.
    """

    @functools.wraps(builder)
    def statement(tables, *options):
        built = tables.__dict__.setdefault("_prebuilt_statements", {})
        key = (builder, *options)
        if key not in built:
            built[key] = builder(tables, *options)
        return built[key]

    return statement
