"""The start-up check leaves no database connection for gunicorn's forked workers to share."""

from __future__ import annotations

from app.crypto.wiring import check_keyring_matches_database
from app.extensions import db
from tests.conftest import build_app, make_settings


def test_startup_check_leaves_no_open_connection_to_inherit(backend, tmp_path):
    _name, url, root = backend
    app = build_app(make_settings(root, url))
    check_keyring_matches_database(app)
    with app.app_context():
        assert db.engine.pool.checkedin() == 0
        assert db.engine.pool.checkedout() == 0
        db.engine.dispose()
