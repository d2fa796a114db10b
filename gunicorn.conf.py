"""gunicorn settings for ALX Bridge: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Override any of them on the command line or in ``GUNICORN_CMD_ARGS`` (e.g. ``--bind 0.0.0.0:8000``).
"""

import multiprocessing
import os

# Loopback only: the site's reverse proxy (deploy/nginx-alxbridge.conf) is the one public entry, and it buffers
# request bodies for the gthread workers. A public bind is refused unless ALX_TRUSTED_PROXIES declares a proxy.
bind = "127.0.0.1:8000"
# gthread: a worker keeps telling the master it is alive while a thread streams a long export,
# and the in-process scheduler's threads live beside the request threads.
worker_class = "gthread"
# Several workers need a shared limiter storage (ALX_RATELIMIT_STORAGE_URI=redis://…): memory:// is refused.
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8)))
threads = 4
# A 1000-row page answers in well under a second; a big export streams within this bound per chunk.
timeout = 120
graceful_timeout = 30
keepalive = 5
# No periodic worker recycling: with gthread workers, gunicorn drops requests in flight while a worker
# restarts for max_requests (benoitc/gunicorn#3038, open), which the load test saw as 502s from nginx.
max_requests = 0
# The bridge writes its own structured access log (alxbridge.access) without query strings:
# gunicorn's would print wstoken in the request line.
accesslog = None
errorlog = "-"
loglevel = "info"
# Trust X-Forwarded-* only from the local proxy; ALX_TRUSTED_PROXIES sets how many hops the app trusts.
forwarded_allow_ips = "127.0.0.1,::1"


def on_starting(server):
    """Refuse, in one line, settings that would weaken the limits or expose the workers (operations.serving)."""
    from alxbridge.operations.serving import startup_problem
    from config import from_environment

    problem = startup_problem(from_environment(), server.cfg.workers, server.cfg.bind)
    if problem:
        raise SystemExit(f"alxbridge: {problem}")


def post_fork(server, worker):
    """Each worker opens its own database connections; the scheduler starts with its first request."""
    from alxbridge.jobs.scheduler import after_fork
    from wsgi import app

    after_fork(app)
