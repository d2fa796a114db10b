"""Errors an operator can act on: each carries a one-line message naming the problem and its fix."""


class BridgeError(Exception):
    """Base class: ``str(error)`` is a complete one-line explanation, shown without a traceback."""


class DatabaseConfigError(BridgeError):
    """``ALX_DATABASE_URL`` is malformed or names a driver that is not installed."""


class DatabaseUnavailable(BridgeError):
    """The database server cannot be reached or refuses the connection."""


class NotAMoodleSite(BridgeError):
    """The database has no Moodle tables under the configured prefix, or lacks IOMAD."""
