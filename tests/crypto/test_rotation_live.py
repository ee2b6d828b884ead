"""A running worker follows a rotation done by ``flask keys rotate`` in another process."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import select

from app.crypto import keyfile as keyring_file
from app.crypto import service as keys
from app.crypto.models import DataKey, utcnow
from app.crypto.vault import Vault, get_vault
from app.extensions import db
from app.reports.models import Report
from tests.crypto.helpers import submit_report


def rotate_elsewhere(settings) -> str:
    """What `flask keys rotate` does in its own process: its own Vault over the same file and database."""
    other = Vault(keyring_file.load(settings.keyring_path), settings.field_cipher, settings.blind_index)
    new_kek = keys.start_rotation(other, settings.keyring_path)
    # Make the change visible even on file systems with coarse timestamps.
    stat = settings.keyring_path.stat()
    os.utime(settings.keyring_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    keys.rewrap_batches(other, clock=utcnow)
    return new_kek


def test_a_running_app_reads_and_writes_under_the_rotated_key(own_app, own_settings, own_login):
    client = own_app.test_client()
    before = submit_report(client, own_login, victim={"name": "轮换前"})
    db.session.remove()
    new_kek = rotate_elsewhere(own_settings)
    db.session.remove()

    view = client.get(f"/api/v1/reports/{before}", headers=own_login.headers)
    assert view.status_code == 200
    assert view.json["victim"]["name"] == "轮换前"
    after = submit_report(client, own_login, victim={"name": "轮换后"})
    db.session.remove()
    report = db.session.get(Report, uuid.UUID(str(after)))
    assert report.data_key.kek_id == new_kek
    assert get_vault().keyring.current == new_kek
    assert keys.pending_count(get_vault()) == 0
    assert set(db.session.scalars(select(DataKey.kek_id).where(DataKey.wrapped.is_not(None)))) == {new_kek}


def test_an_unreadable_keyring_file_keeps_the_keyring_in_memory(own_app, own_settings, own_login):
    current = get_vault().keyring.current
    own_settings.keyring_path.write_text("{not json")
    assert get_vault().keyring.current == current
    client = own_app.test_client()
    assert client.post("/api/v1/reports", json={}, headers=own_login.headers).status_code == 422
