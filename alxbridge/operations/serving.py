"""Start-up checks of the production server (``gunicorn.conf.py``): settings that would quietly weaken the bridge.

* Flask-Limiter's ``memory://`` storage counts in each process: with several gunicorn workers every
  limit (admin sign-in, the REST abuse shield) would be multiplied by the number of workers.
* gunicorn's gthread workers read a request body in a worker thread: without a buffering proxy in
  front (``deploy/nginx-alxbridge.conf``), a few clients sending their bodies slowly hold every thread
  and even ``/healthz`` times out. A public bind is allowed only when a proxy is declared
  (``ALX_TRUSTED_PROXIES``), as the container does.

No Flask here: gunicorn's master runs these checks before it loads the app or binds a socket.
"""

import ipaddress


def _is_loopback(bind):
    """``127.0.0.1:8000``, ``[::1]:8000``, ``localhost:8000`` and unix sockets reach no other host."""
    if bind.startswith("unix:"):
        return True
    host = bind[1 : bind.find("]")] if bind.startswith("[") else (bind.rpartition(":")[0] or bind)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def startup_problem(settings, workers, binds):
    """One line saying why the server must not start with these ``ALX_*`` settings, or ``None``."""
    storage = settings["ALX_RATELIMIT_STORAGE_URI"]
    if storage.startswith("memory://") and workers > 1:
        return (
            f"ALX_RATELIMIT_STORAGE_URI is {storage} but gunicorn runs {workers} workers, each counting its own "
            f"limits ({workers}x every limit); set ALX_RATELIMIT_STORAGE_URI=redis://... or WEB_CONCURRENCY=1"
        )
    public = [bind for bind in binds if not _is_loopback(bind)]
    if public and not settings["ALX_TRUSTED_PROXIES"]:
        return (
            f"gunicorn would listen on {', '.join(public)} with no proxy in front (ALX_TRUSTED_PROXIES=0); its gthread "
            "workers need a buffering proxy (deploy/nginx-alxbridge.conf): bind to 127.0.0.1, or put the proxy in "
            "front and set ALX_TRUSTED_PROXIES"
        )
    return None
