"""Errors of the demo command; each is a one-line :class:`~alxbridge.operations.errors.BridgeError`."""

from ..operations.errors import BridgeError


class DemoError(BridgeError):
    """The demo site cannot be built as asked (size out of range, a write failed)."""


class NotADemoSite(DemoError):
    """The database holds a Moodle site that the demo did not build: it must never be touched."""


class DemoSiteExists(DemoError):
    """A demo site is already there and neither ``--replace`` nor ``--if-missing`` was given."""
