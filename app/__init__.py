"""qzbg: mandatory reporting of harm to minors (侵害未成年人案件强制报告)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Request, request
from sqlalchemy import event
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from app.config import Settings
from app.core.ratelimit import SCHEME as RATELIMIT_SCHEME  # registers the storage with flask-limiter
from app.core.spool import EphemeralSpool

JSON_BODY_LIMIT = 1024 * 1024
# Endpoints that take file uploads, and how many files each may carry at most.
UPLOAD_ENDPOINTS = {"api_v1.upload_attachment": 1, "web.report_form": 9, "units_admin.import_units": 1}


class _BodyLimit(LimitedStream):
    """A body without a declared length (chunked) read up to the limit: one byte more is a 413.

    Werkzeug's own stream stops reading at ``max_content_length`` and reports the
    end of the body, so a longer chunked body would be silently cut to the limit.
    """

    def on_exhausted(self) -> None:
        try:
            more = self._stream.read(1)
        except (OSError, ValueError) as exc:  # a broken chunk: the client's fault, as Werkzeug treats it
            self.on_disconnect(error=exc)
            return
        if more:
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


class QzbgRequest(Request):
    """Bodies over the limit are refused however they are sent; upload parts wait in an encrypted spool,
    never in clear in a temporary file."""

    @cached_property
    def stream(self) -> Any:
        """As Werkzeug's, but a chunked body (the server terminates the input) over
        ``max_content_length`` is a 413 like a declared length, not cut to the limit."""
        if self.shallow:
            raise RuntimeError("This request was created with 'shallow=True': reading the body is disabled.")
        limit = self.max_content_length
        if limit is not None and self.content_length is None and "wsgi.input_terminated" in self.environ:
            return _BodyLimit(self.environ["wsgi.input"], limit, is_max=True)
        return get_input_stream(self.environ, max_content_length=limit)

    def _get_file_stream(self, *args: Any, **kwargs: Any) -> Any:
        spool = EphemeralSpool()
        self.__dict__.setdefault("_qzbg_spools", []).append(spool)
        return spool

    def close_spools(self) -> None:
        """Close every spool, also those of a request refused halfway through parsing."""
        for spool in self.__dict__.pop("_qzbg_spools", []):
            spool.close()


def create_app(
    settings: Settings | None = None, flask_config: dict[str, Any] | None = None, *, require_keyring: bool = True
) -> Flask:
    """Build the app: settings, extensions, blueprints, error handlers, CLI. No I/O beyond reading the keyring."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.request_class = QzbgRequest
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
    register_security_headers(app)
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
        app.extensions["qzbg.vault"] = Vault(ring, settings.field_cipher, settings.blind_index, settings.keyring_path)
        from app.crypto.service import register_keyring_check

        register_keyring_check(app)
    db.init_app(app)
    if settings.database_url.startswith("sqlite"):
        with app.app_context():
            _configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(_migrations_dir()))

    # Before CSRF and the limiter, which read the form: upload endpoints take bigger bodies.
    @app.before_request
    def set_body_limit() -> None:
        files = UPLOAD_ENDPOINTS.get(request.endpoint or "")
        if files:
            request.max_content_length = files * settings.max_attachment_bytes + JSON_BODY_LIMIT

    @app.teardown_request
    def close_upload_spools(exc: BaseException | None) -> None:
        if isinstance(request, QzbgRequest):
            request.close_spools()

    csrf.init_app(app)
    limiter.init_app(app)


def _migrations_dir() -> Any:
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"


def _configure_sqlite(engine: Any) -> None:
    """WAL, foreign keys, a busy timeout; the write lock taken only where a transaction writes, so that
    writers queue instead of failing and reads never wait for it (intents: see app/core/db.py)."""
    from app.core.db import READ, SERIAL, current_intent
    from app.core.writequeue import queue_for

    database = engine.url.database
    queue = queue_for(database, SQLITE_BUSY_TIMEOUT) if database and database != ":memory:" else None

    def raw(connection: Any) -> Any:
        return getattr(connection, "dbapi_connection", connection)

    def begin_immediate(dbapi_connection: Any, run: Callable[[str], Any]) -> None:
        """BEGIN IMMEDIATE, after waiting for this connection's turn among the queued writers."""
        if queue is not None:
            queue.acquire(raw(dbapi_connection))
        try:
            run("BEGIN IMMEDIATE")
        except BaseException:
            if queue is not None:
                queue.release(raw(dbapi_connection))
            raise

    if queue is not None:
        # The queue is released once the transaction is over: after the COMMIT or ROLLBACK itself.
        dialect = engine.dialect
        base_commit, base_rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_connection: Any) -> None:
            try:
                base_commit(dbapi_connection)
            finally:
                queue.release(raw(dbapi_connection))

        def do_rollback(dbapi_connection: Any) -> None:
            try:
                base_rollback(dbapi_connection)
            finally:
                queue.release(raw(dbapi_connection))

        dialect.do_commit = do_commit  # type: ignore[method-assign]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign]

        @event.listens_for(engine, "close")
        @event.listens_for(engine, "close_detached")
        def on_close(dbapi_connection: Any, *_: Any) -> None:
            queue.release(raw(dbapi_connection))

        @event.listens_for(engine, "invalidate")
        def on_invalidate(dbapi_connection: Any, *_: Any) -> None:
            if dbapi_connection is not None:
                queue.release(raw(dbapi_connection))

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        serial = current_intent() == SERIAL
        if serial:
            begin_immediate(connection.connection.dbapi_connection, connection.exec_driver_sql)
        else:
            connection.exec_driver_sql("BEGIN")
        connection.info[_SQLITE_DEFERRED] = not serial

    @event.listens_for(engine, "before_cursor_execute")
    def lock_before_first_write(
        connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if not connection.info.get(_SQLITE_DEFERRED) or not _writes_or_locks(statement, context):
            return
        connection.info[_SQLITE_DEFERRED] = False
        if current_intent() != READ:
            # Nothing written yet: end the read snapshot and wait for the write lock.
            cursor.execute("COMMIT")
            begin_immediate(cursor.connection, cursor.execute)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def on_end(connection: Any) -> None:
        connection.info.pop(_SQLITE_DEFERRED, None)


_SQLITE_DEFERRED = "qzbg.sqlite_deferred"
SQLITE_BUSY_TIMEOUT = 30.0  # seconds a writer waits for the write lock (the queue, then SQLite's busy handler)
# A savepoint opens a nested write: the lock comes before it, never inside it.
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT")


def _writes_or_locks(statement: str, context: Any) -> bool:
    """A write, or a read PostgreSQL would lock (FOR UPDATE, dropped from SQLite's SQL but kept on the query)."""
    if statement.lstrip()[:9].upper().startswith(_WRITE_VERBS):
        return True
    compiled = getattr(context, "compiled", None)
    return getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None


def register_blueprints(app: Flask) -> None:
    from app import health
    from app.admin import routes as admin_routes
    from app.admin import units as units_admin
    from app.auth import routes as auth_routes
    from app.auth import templating
    from app.core.rest import api
    from app.extensions import csrf
    from app.notify import admin as notify_admin
    from app.notify import routes as notify_routes
    from app.offices import api as offices_api
    from app.reporters import api as reporters_api
    from app.reports import api as reports_api
    from app.reports import routes as reports_routes
    from app.review import liaison as units_liaison
    from app.review import routes as review_routes
    from app.stats import routes as stats_routes
    from app.units import api as units_api
    from app.units import routes as units_routes
    from app.wechat import init_app as init_wechat

    app.register_blueprint(health.bp)
    api.init_app(app)
    for blueprint in (reports_api.blp, units_api.blp, reporters_api.blp, offices_api.blp):
        api.register_blueprint(blueprint)
        csrf.exempt(blueprint)  # bearer tokens, not cookies: CSRF does not apply
    app.register_blueprint(reports_routes.bp)
    app.register_blueprint(units_routes.bp)
    for staff_blueprint in (auth_routes.bp, review_routes.bp, stats_routes.bp, admin_routes.bp, units_admin.bp,
                            units_liaison.bp, notify_routes.bp):
        app.register_blueprint(staff_blueprint)
    notify_admin.register(app)
    templating.register(app)
    init_wechat(app)


def register_cli(app: Flask) -> None:
    from app.audit.cli import audit_cli
    from app.auth.cli import users_cli
    from app.crypto.cli import keys_cli
    from app.demo.cli import demo_cli
    from app.notify.cli import notify_cli
    from app.offices.cli import offices_cli, police_units_cli
    from app.units.cli import units_cli
    from app.wechat.cli import wechat_cli

    for group in (keys_cli, units_cli, notify_cli, wechat_cli, offices_cli, police_units_cli, users_cli, audit_cli,
                  demo_cli):
        app.cli.add_command(group)
