"""A SQLite connection is not pinged at checkout (there is no server to lose it); PostgreSQL's still is."""

from __future__ import annotations

from app.extensions import db


def test_connections_are_pinged_at_checkout_only_where_a_server_can_drop_them(app, backend_name):
    with app.app_context():
        assert db.engine.pool._pre_ping is (backend_name == "postgresql")
