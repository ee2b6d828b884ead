"""qzbg: mandatory reporting of harm to minors (侵害未成年人案件强制报告).

``create_app`` only wires: settings, plumbing (app/core), extensions, blueprints, error handlers, the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import Settings
from app.core.ratelimit import SCHEME as RATELIMIT_SCHEME  # registers the storage with flask-limiter
from app.core.requests import JSON_BODY_LIMIT, register_body_limits

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(
    settings: Settings | None = None, flask_config: dict[str, Any] | None = None, *, require_keyring: bool = True
) -> Flask:
    """Build the app: settings, extensions, blueprints, error handlers, CLI. No I/O beyond reading the keyring."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # UTF-8 JSON, not \u escapes
    app.config.update(
        QZBG=settings,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        # A pooled PostgreSQL connection may have been cut (restart, failover): pinged at checkout. A SQLite
        # connection is a file handle with no server to lose it, so its ping would be a statement for nothing.
        SQLALCHEMY_ENGINE_OPTIONS={
            "hide_parameters": True, "pool_pre_ping": not settings.database_url.startswith("sqlite"),
        },
        MAX_CONTENT_LENGTH=JSON_BODY_LIMIT,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,
        # Pages send no Referer (Referrer-Policy: no-referrer); the token and SameSite cookies protect forms.
        WTF_CSRF_SSL_STRICT=False,
        RATELIMIT_STORAGE_URI=settings.redis_url or f"{RATELIMIT_SCHEME}://{settings.instance_path}/ratelimits.sqlite3",
        # No X-RateLimit-*/Retry-After on every answer: only a 429 says when to retry (app.errors).
        RATELIMIT_HEADERS_ENABLED=False,
        RATELIMIT_ENABLED=True,
        # Redis down must not stop reports: count in memory meanwhile, never fail the request.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        JSON_SORT_KEYS=False,
    )
    from app.core.rest import API_CONFIG

    app.config.update(API_CONFIG)
    app.config.update(flask_config or {})
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies,
            x_host=settings.trusted_proxies,
        )

    from app.core.logs import configure_logging

    configure_logging(app, settings.log_level)
    register_extensions(app, require_keyring=require_keyring)
    warn_about_keyring_placement(settings)
    from app.core.guards import register_input_guard
    from app.core.headers import register_security_headers

    register_input_guard(app)  # after the body limits: it reads the form
    register_security_headers(app, hsts=settings.public_url.startswith("https://"))
    register_blueprints(app)
    from app.core.errorhandlers import register_error_handlers

    register_error_handlers(app)
    register_cli(app)
    return app


def warn_about_keyring_placement(settings: Settings) -> None:
    """One line at start-up when the keyring shares a directory with the data it protects."""
    shared = settings.keyring_shares_directory_with()
    if shared:
        import logging

        logging.getLogger("qzbg.crypto").warning(
            "keyring_beside_data",
            extra={"shares_directory_with": shared, "keyring_dir": str(settings.keyring_path.resolve().parent),
                   "hint": "move the keyring to a directory of its own and set QZBG_KEYRING"},
        )


def register_extensions(app: Flask, *, require_keyring: bool) -> None:
    from app import models  # noqa: F401 - registers every table
    from app.crypto import keyfile as keyring_file
    from app.crypto.vault import Vault
    from app.extensions import csrf, db, limiter, migrate

    settings: Settings = app.config["QZBG"]
    if require_keyring or settings.keyring_path.exists():
        ring = keyring_file.load(settings.keyring_path)
        vault = Vault(ring, settings.field_cipher, settings.blind_index, settings.keyring_path)
        app.extensions["qzbg.vault"] = vault
        from app.audit import service as audit

        # The audit chain is keyed under the keyring (the key stays in the vault; app/audit/service.py).
        app.extensions[audit.EXTENSION] = audit.ChainKey(f"hmac-{settings.audit_hash}", vault.audit_mac)
        from app.crypto.wiring import register_keyring_check

        register_keyring_check(app)
    db.init_app(app)
    if settings.database_url.startswith("sqlite"):
        from app.core.sqlite import configure_sqlite

        with app.app_context():
            configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    register_body_limits(app, settings.max_attachment_bytes)  # before CSRF and the limiter, which read the form
    csrf.init_app(app)
    limiter.init_app(app)


def register_blueprints(app: Flask) -> None:
    from app import health
    from app.admin import audit_log as _audit_pages  # noqa: F401 - the modules attach their views to admin.bp
    from app.admin import institutions as _institution_pages  # noqa: F401
    from app.admin import notify as _notify_pages  # noqa: F401
    from app.admin import outbox as _outbox_pages  # noqa: F401
    from app.admin import routes as _admin_pages  # noqa: F401
    from app.admin import units as _unit_pages  # noqa: F401
    from app.admin import users as _user_pages  # noqa: F401
    from app.admin.blueprint import bp as admin_bp
    from app.auth import routes as auth_routes
    from app.auth import setup_pages as _setup_pages  # noqa: F401 - attaches /setup/<token> to auth_routes.bp
    from app.auth import templating
    from app.core.rest import api
    from app.exports import routes as export_routes
    from app.exports import runner as export_runner
    from app.extensions import csrf
    from app.institutions import api as institutions_api
    from app.notify import wiring as notify_wiring
    from app.offices import api as offices_api
    from app.reporters import api as reporters_api
    from app.reports import api as reports_api
    from app.reports import routes as reports_routes
    from app.review import cases as _case_pages  # noqa: F401 - attaches /review/cases and /review/unreported
    from app.review import liaison as liaison_routes
    from app.review import routes as review_routes
    from app.stats import routes as stats_routes
    from app.units import api as units_api
    from app.units import routes as units_routes
    from app.wechat import init_app as init_wechat

    app.register_blueprint(health.bp)
    api.init_app(app)
    for blueprint in (reports_api.blp, units_api.blp, reporters_api.blp, offices_api.blp, institutions_api.blp):
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)  # bearer tokens and signatures, not cookies: CSRF does not apply
    app.register_blueprint(reports_routes.bp)
    app.register_blueprint(units_routes.bp)
    for staff_blueprint in (auth_routes.bp, review_routes.bp, stats_routes.bp, admin_bp, liaison_routes.bp,
                            export_routes.bp):
        app.register_blueprint(staff_blueprint)
    if app.config["QZBG"].training:  # the trainer's pages exist in a training deployment only
        from app.demo import routes as training_routes

        app.register_blueprint(training_routes.bp)
    notify_wiring.register(app)
    export_runner.init_app(app)  # the notify worker writes the exports, in a thread of their own
    templating.register(app)
    init_wechat(app)


def register_cli(app: Flask) -> None:
    from app.audit.cli import audit_cli
    from app.auth.cli import users_cli
    from app.cases.cli import cases_cli
    from app.crypto.cli import keys_cli
    from app.demo.cli import demo_cli
    from app.institutions.cli import institutions_cli
    from app.notify.cli import notify_cli
    from app.offices.cli import offices_cli, police_units_cli
    from app.units.cli import units_cli
    from app.wechat.cli import wechat_cli

    for group in (keys_cli, units_cli, notify_cli, wechat_cli, offices_cli, police_units_cli, users_cli, audit_cli,
                  demo_cli, institutions_cli, cases_cli):
        app.cli.add_command(group)
