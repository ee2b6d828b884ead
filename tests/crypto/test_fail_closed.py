"""A keyring that does not match the database is refused at the first request too, not only at start-up."""

from __future__ import annotations

from app.crypto import keyfile as keyring_file
from app.extensions import db
from tests.conftest import build_app, make_settings
from tests.crypto.helpers import submit_report


def test_an_app_that_could_not_check_its_keyring_at_start_refuses_requests_under_a_wrong_one(
    own_app, own_settings, own_login, tmp_path
):
    submit_report(own_app.test_client(), own_login)
    db.session.remove()
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    keyring_file.save(keyring_file.generate(), wrong / "keyring.json")
    # As if the database had been down during the start-up check: nothing verified yet.
    stranger = build_app(make_settings(wrong, own_settings.database_url))
    with stranger.app_context():
        client = stranger.test_client()
        refused = client.post("/api/v1/reports", json={}, headers=own_login.headers)
        assert refused.status_code == 503
        assert refused.json["error"]["code"] == "upstream_unavailable"
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
        db.session.remove()
        db.engine.dispose()


def test_a_matching_keyring_is_checked_once_and_then_serves(own_app, own_login):
    client = own_app.test_client()
    assert client.get("/api/v1/reports", headers=own_login.headers).status_code == 200
    assert own_app.extensions["qzbg.keyring_verified"] is True


def test_a_foreign_keyring_dropped_in_at_runtime_is_refused_after_reload(own_app, own_settings, own_login):
    import os

    client = own_app.test_client()
    submit_report(client, own_login)
    db.session.remove()
    assert own_app.extensions["qzbg.keyring_verified"] is True
    keyring_file.save(keyring_file.generate(), own_settings.keyring_path)
    stat = own_settings.keyring_path.stat()
    os.utime(own_settings.keyring_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    first = client.get("/api/v1/reports", headers=own_login.headers)  # reloads, then cannot serve
    second = client.post("/api/v1/reports", json={}, headers=own_login.headers)
    assert 503 in (first.status_code, second.status_code)
    assert second.status_code == 503
