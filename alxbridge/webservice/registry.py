"""The external functions the bridge implements, by name. Anything else is Moodle's (pass-through).

The protocol layer knows only Moodle's own site info; the app factory registers the reporting function,
so this package never imports what it serves.
"""

import sqlalchemy as sa

from .site_info import SITE_INFO

FUNCTIONS = {SITE_INFO.name: SITE_INFO}


def register_function(function):
    """Answer ``function.name`` with ``function`` (an :class:`~alxbridge.webservice.functions.ExternalFunction`)."""
    FUNCTIONS[function.name] = function


def spells_a_bridge_function(connection, tables, name):
    """True when Moodle would resolve ``name``, which is not one of :data:`FUNCTIONS`' names, to one of them.

    Moodle looks ``wsfunction`` up as ``external_functions.name = ?`` without cleaning it, so on MySQL's
    ``utf8mb4_unicode_ci`` a trailing space, another case or an accent still finds the function (and would run
    the PHP plugin's copy). The database is asked rather than imitated, so its own collation decides.
    """
    functions = tables.external_functions
    found = connection.execute(sa.select(functions.c.name).where(functions.c.name == name)).scalars()
    return any(declared in FUNCTIONS for declared in found)
