"""Fixtures: the app on SQLite and (with QZBG_TEST_DATABASE_URL) on PostgreSQL.

Each backend gets one schema, made by the real migrations, for the whole run;
every test starts from empty tables. Tests that take ``app`` (or anything built
on it) run once per backend.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask_migrate
import psycopg
import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from jinja2.bccache import Bucket, BytecodeCache
from sqlalchemy.engine import make_url
from sqlalchemy.util import LRUCache
from werkzeug.routing import Rule

from app import create_app
from app.clients.fake_wechat import FakeWeChat, FakeWeChatServer
from app.config import Settings
from app.crypto import keyfile as keyring_file
from app.crypto.vault import get_vault
from app.extensions import db, limiter
from app.reporters import service as reporters
from app.units.models import Unit
from tests.factories import create_unit

PG_URL = os.environ.get("QZBG_TEST_DATABASE_URL")
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=pytest.mark.skipif(not PG_URL, reason="QZBG_TEST_DATABASE_URL is not set: PostgreSQL runs skipped"),
    ),
]
TEST_SECRET = "test-secret-key-" + "x" * 32
RELAXED_LIMIT = "10000 per minute"
# argon2 at the least cost it accepts: a staff login or a 查询码 costs microseconds instead of 0.1-0.4 s of CPU.
# Production's parameters are asserted once (tests/auth/test_password_cost.py); hashes made here still verify
# anywhere, since argon2 reads the parameters from the hash, and a server started by a test rehashes at
# production cost on login.
CHEAP_ARGON2 = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long tests first (``slow``: tens of seconds each, then the browser's), so that with both cores busy
    the run does not end waiting on one of them; the order within each group is kept."""
    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("slow"):
            return 0
        return 1 if item.get_closest_marker("browser") else 2

    items.sort(key=rank)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Staff passwords and 查询码 hashed at the least argon2 cost for the in-process tests."""
    from app.auth import passwords
    from app.reports import service as reports_service

    saved = passwords._hasher, passwords._DUMMY, reports_service._hasher, reports_service._DUMMY_HASH
    passwords._hasher, reports_service._hasher = CHEAP_ARGON2, CHEAP_ARGON2
    passwords._DUMMY = CHEAP_ARGON2.hash("qzbg-dummy-password-for-timing")
    reports_service._DUMMY_HASH = CHEAP_ARGON2.hash("qzbg-dummy-status-code")
    yield
    passwords._hasher, passwords._DUMMY, reports_service._hasher, reports_service._DUMMY_HASH = saved


def redis_test_url() -> str | None:
    """``QZBG_TEST_REDIS_URL`` with a database of this pytest-xdist worker's own, counting down from the URL's
    (``/15``: gw0 15, gw1 14, ...), so one worker's ``limiter.reset()`` never wipes the counts another worker's
    test is reading; two runs on one machine keep apart by naming databases far enough apart (``/15``, ``/7``)."""
    base = os.environ.get("QZBG_TEST_REDIS_URL")
    if not base:
        return None
    url = make_url(base)
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    number = (int(url.database or 15) - worker) % 16
    return url.set(database=str(number)).render_as_string(hide_password=False)


def _pg_admin_url() -> str:
    url = make_url(PG_URL or "").set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped at the end."""
    name = f"qzbg_test_{secrets.token_hex(4)}"
    with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_URL or "").set(drivername="postgresql+psycopg", database=name)
    SHARED_ENGINES.databases.add(name)
    yield url.render_as_string(hide_password=False)
    with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_settings(root: Path, database_url: str, **overrides: Any) -> Settings:
    """Settings for a test app under ``root``, with a new keyring."""
    root.mkdir(parents=True, exist_ok=True)
    keyring_path = root / "keyring.json"
    if not keyring_path.exists():
        keyring_file.save(keyring_file.generate(), keyring_path)
    base = Settings(
        instance_path=root,
        database_url=database_url,
        secret_key=TEST_SECRET,
        keyring_path=keyring_path,
        attachments_dir=root / "attachments",
        exports_dir=root / "exports",
        intake_rate_limit=RELAXED_LIMIT,
        intake_ip_rate_limit=RELAXED_LIMIT,
        lookup_rate_limit=RELAXED_LIMIT,
    )
    return base.replace(**overrides)


class SharedTemplateBytecode(BytecodeCache):
    """Compiled templates kept for the run: each test's app would otherwise parse and compile every template it
    renders anew (Jinja keeps them per environment). The key covers the template's name and source."""

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()


class SharedStatementCache:
    """SQLAlchemy's compiled statements kept for the run across the apps the tests build.

    An engine keeps its own cache keyed by its dialect object, so a new app (a new engine) compiled every
    statement anew. Here dialects of one class and server version stand for each other in the key, as they
    compile a statement to the same SQL."""

    def __init__(self) -> None:
        self._cache: LRUCache[Any, Any] = LRUCache(20000)
        self._dialects: dict[tuple[Any, ...], Any] = {}

    def _key(self, key: tuple[Any, ...]) -> tuple[Any, ...]:
        dialect = key[0]
        signature = (type(dialect), dialect.server_version_info, dialect.paramstyle)
        return (self._dialects.setdefault(signature, dialect), *key[1:])

    def get(self, key: tuple[Any, ...], default: Any = None) -> Any:
        return self._cache.get(self._key(key), default)

    def __setitem__(self, key: tuple[Any, ...], value: Any) -> None:
        self._cache[self._key(key)] = value

    def __len__(self) -> int:
        return len(self._cache)


def _shared_url_builders() -> None:
    """Werkzeug compiles two URL builder functions per route for every app (about 180 routes here): most of
    ``create_app``'s remaining time when the suite builds an app per test. A builder is Python code made from the
    rule's parts alone (it takes the rule as its first argument), so one compiled per rule serves every app."""
    original = Rule._compile_builder
    compiled: dict[Any, Any] = {}

    def compile_builder(self: Rule, append_unknown: bool = True) -> Any:
        try:
            key = (self.rule, tuple(self._trace), tuple(sorted((self.defaults or {}).items())), append_unknown)
            builder = compiled.get(key)
        except TypeError:  # a default that cannot be a key: compiled as werkzeug does
            return original(self, append_unknown)
        if builder is None:
            builder = compiled[key] = original(self, append_unknown)
        return builder

    Rule._compile_builder = compile_builder  # type: ignore[method-assign]


class SharedEngines:
    """The run's PostgreSQL engines, one per database URL and options, shared by the apps the tests build.

    An app built per test opened its own pool: a new PostgreSQL backend process per test (a fork, the
    authentication, the dialect's start-up queries, then a cold catalog cache for every table the test touched),
    and a second one for the tracking numbers' counter engine. Shared, a test checks out a warm connection.
    Only engines on the run's own databases are kept (an outage test's unreachable URL gets its own engine,
    disposed as before); a test that disposes the engine closes its idle connections and the next use opens
    new ones, as in production."""

    def __init__(self) -> None:
        self._engines: dict[str, Any] = {}
        self.databases: set[str] = set()

    def install(self) -> None:
        original = db._make_engine

        def make_engine(bind_key: str | None, options: dict[str, Any], app: Flask) -> Any:
            url = make_url(options["url"])
            if url.get_backend_name() != "postgresql" or url.database not in self.databases:
                return original(bind_key, options, app)
            key = repr(sorted(
                (name, value.render_as_string(hide_password=False) if name == "url" else repr(value))
                for name, value in {**options, "url": url}.items()
            ))
            engine = self._engines.get(key)
            if engine is None:
                engine = self._engines[key] = original(bind_key, options, app)
            return engine

        db._make_engine = make_engine  # type: ignore[method-assign]

    def holds(self, engine: Any) -> bool:
        return any(engine is shared for shared in self._engines.values())


_shared_url_builders()
TEMPLATE_BYTECODE = SharedTemplateBytecode()
STATEMENT_CACHE = SharedStatementCache()
SHARED_ENGINES = SharedEngines()
SHARED_ENGINES.install()


def build_app(settings: Settings, **flask_config: Any) -> Flask:
    """``create_app`` with the test config, sharing compiled templates and statements with the run's other apps
    (a production process builds one app; the suite builds thousands)."""
    application = create_app(settings, {"TESTING": True, **flask_config})
    application.jinja_env.bytecode_cache = TEMPLATE_BYTECODE
    with application.app_context():
        db.engine.update_execution_options(compiled_cache=STATEMENT_CACHE)
    return application


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    """(name, database URL, instance dir) of one backend, migrated once."""
    root = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'qzbg.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_database")
    app = build_app(make_settings(root, url))
    with app.app_context():
        flask_migrate.upgrade()
        db.engine.dispose()
    return request.param, url, root


def _empty_tables() -> None:
    """Every table emptied, then the rows the migrations seed put back (the default office).

    On PostgreSQL the deletes go in one round trip; a shared engine keeps its connections for the next test."""
    db.session.remove()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            with conn.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
                cursor.execute(";".join(
                    f'DELETE FROM "{table.name}"' for table in reversed(db.metadata.sorted_tables)  # noqa: S608 - our own table names
                ))
        else:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        _seed_default_office(conn)
    _release_engine()


def _release_engine() -> None:
    """Close the app's connections, unless its engine is one the run shares."""
    if not SHARED_ENGINES.holds(db.engine):
        db.engine.dispose()


def _seed_default_office(conn: Any) -> None:
    from app.offices.models import Office

    conn.execute(Office.__table__.insert().values(
        id=1, code="default", name="人民检察院", is_default=True, created_at=dt.datetime.now(dt.UTC)
    ))


@pytest.fixture
def make_app(backend: tuple[str, str, Path]) -> Iterator[Any]:
    """Build an app on this test's backend with settings overrides; all cleaned up after the test.

    The first app built is the one whose app context the test runs in.
    """
    _name, url, root = backend
    contexts = []

    def factory(**overrides: Any) -> Flask:
        application = build_app(make_settings(root, url, **overrides))
        context = application.app_context()
        context.push()
        if contexts:
            # Only the first app's context stays current for the test body.
            context.pop()
            contexts.append((application, None))
        else:
            contexts.append((application, context))
        return application

    yield factory
    for application, context in reversed(contexts):
        if context is not None:
            _empty_tables()
            context.pop()
        else:
            with application.app_context():
                db.session.remove()
                _release_engine()
    with contextlib.suppress(Exception):  # a test may point the limiter at an unreachable Redis
        limiter.reset()
    shutil.rmtree(root / "attachments", ignore_errors=True)
    shutil.rmtree(root / "exports", ignore_errors=True)
    for leftover in root.glob("wechat-token-*"):
        leftover.unlink()


@pytest.fixture
def app(make_app: Any) -> Flask:
    """The app on one backend; tables emptied and limits reset after each test."""
    return make_app()


@pytest.fixture
def backend_name(backend: tuple[str, str, Path]) -> str:
    return backend[0]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@dataclass
class ReporterLogin:
    id: Any
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def login_reporter(openid: str) -> ReporterLogin:
    """A reporter account and a live token, as WeChat login will make them."""
    now = dt.datetime.now(dt.UTC)
    reporter = reporters.find_or_create_by_openid(openid, now=now, vault=get_vault())
    token, _ = reporters.issue_token(reporter, now=now, ttl=dt.timedelta(hours=1))
    login = ReporterLogin(reporter.id, token)
    db.session.commit()
    return login


@pytest.fixture
def reporter(app: Flask) -> ReporterLogin:
    return login_reporter("o-test-reporter")


@pytest.fixture
def other_reporter(app: Flask) -> ReporterLogin:
    return login_reporter("o-test-other")


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    """A fake WeChat on 127.0.0.1 with its own appid, so no token cache is shared between tests."""
    state = FakeWeChat(appid=f"wx{secrets.token_hex(8)}", secret=secrets.token_hex(16))
    with FakeWeChatServer(state):
        yield state


@pytest.fixture
def unit(app: Flask) -> Unit:
    hospital = create_unit("hosp-001")
    db.session.commit()
    return hospital
