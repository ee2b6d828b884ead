"""Fixtures for tests that change the keyring: an app with its own keyring file on the test database.

Rotation and retirement rewrite the keyring file; giving those tests their own
file keeps the session-wide keyring of the ``app`` fixture untouched. The
``app`` fixture is still used underneath, so the tables are emptied afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.config import Settings
from app.extensions import db
from tests.conftest import ReporterLogin, build_app, login_reporter, make_settings


@pytest.fixture
def own_settings(app: Flask, backend: tuple[str, str, Path], tmp_path: Path) -> Settings:
    """Settings with a fresh keyring under ``tmp_path``, on this backend's database."""
    return make_settings(tmp_path / "instance", backend[1])


@pytest.fixture
def own_app(own_settings: Settings) -> Iterator[Flask]:
    application = build_app(own_settings)
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def own_login(own_app: Flask) -> ReporterLogin:
    """A reporter whose data key is wrapped under ``own_app``'s keyring."""
    return login_reporter("o-own-reporter")


@pytest.fixture
def own_runner(own_app: Flask) -> Any:
    return own_app.test_cli_runner()
