"""ALX Bridge: the ALX Report API Moodle plugin as a Flask WSGI app on Moodle's own database."""

import secrets

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import config as settings

from .extensions import cache, cache_config, csrf, init_database, limiter


def _secret_key(app):
    """``ALX_SECRET_KEY``, or one generated once into ``instance/secret_key`` (demo and dev use)."""
    if app.config.get("ALX_SECRET_KEY"):
        return app.config["ALX_SECRET_KEY"]
    path = settings.INSTANCE_PATH / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def create_app(config=None):
    """Build the app from the environment, with ``config`` (a mapping) taking precedence."""
    app = Flask(
        __name__,
        instance_path=str(settings.INSTANCE_PATH),
        template_folder=str(settings.PROJECT_ROOT / "templates"),
    )
    app.config.update(settings.from_environment())
    if config:
        app.config.update(config)
    app.config["SECRET_KEY"] = _secret_key(app)
    app.config["RATELIMIT_STORAGE_URI"] = app.config["ALX_RATELIMIT_STORAGE_URI"]
    app.config["MAX_CONTENT_LENGTH"] = app.config["ALX_MAX_REQUEST_BYTES"]
    app.config.update(cache_config(app.config["ALX_CACHE_URL"]))

    proxies = app.config["ALX_TRUSTED_PROXIES"]
    if proxies:
        # X-Forwarded-Prefix: a Moodle served under a path (wwwroot https://host/moodle) puts the bridge there too.
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies, x_prefix=proxies
        )

    init_database(app)
    cache.init_app(app)
    limiter.init_app(app)
    csrf.init_app(app)

    from .admin import bp as admin
    from .admin.session import init_sessions
    from .cli import alx
    from .jobs.scheduler import init_scheduler
    from .operations.healthz import bp as ops
    from .operations.requestlog import init_request_logging
    from .reporting.service import GET_COURSE_PROGRESS
    from .webservice.registry import register_function
    from .webservice.views import bp as webservice

    register_function(GET_COURSE_PROGRESS)

    init_request_logging(app)
    init_sessions(app)
    csrf.exempt(webservice)  # Moodle's REST clients send no CSRF token; the wstoken authenticates them
    app.register_blueprint(webservice)
    app.register_blueprint(admin)
    app.register_blueprint(ops)
    app.cli.add_command(alx)
    init_scheduler(app)
    return app
