"""Moodle's public address, its ``$CFG->wwwroot``: kept in Moodle's config.php, told to the bridge as
``ALX_MOODLE_WWWROOT``.

Two things hang on it:

* The URLs the bridge hands out (site info's ``siteurl`` and picture URLs, the links in alert e-mail) are
  Moodle's own, never the address a request happened to reach the bridge on (gunicorn's loopback port).
* A call passed through to Moodle reaches Moodle's web server under wwwroot's path: Moodle's set-up
  (``initialise_fullme()`` in ``lib/setuplib.php``) redirects every request whose script path is not
  under wwwroot's path, or whose Host is not wwwroot's host (:mod:`.webservice.passthrough` keeps the
  client's Host for that reason).

Without the setting both come from the request as the trusted proxy describes it (ProxyFix applies
``X-Forwarded-Proto``, ``-Host``, ``-Port`` and ``-Prefix``): right behind the shipped nginx site, and the
demo's own address when it runs alone.

No Flask import: callers pass the settings mapping and the request.
"""

from urllib.parse import urlsplit


def site_url(config, request):
    """Moodle's wwwroot without a trailing slash, e.g. ``https://moodle.example.com/moodle``."""
    return (config.get("ALX_MOODLE_WWWROOT") or request.url_root).rstrip("/")


def moodle_path(config, request):
    """The path Moodle is served under: ``""`` at the root of its host, else e.g. ``"/moodle"``."""
    wwwroot = config.get("ALX_MOODLE_WWWROOT")
    return urlsplit(wwwroot).path.rstrip("/") if wwwroot else request.script_root
