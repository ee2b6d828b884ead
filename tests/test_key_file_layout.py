"""The keyring has a directory of its own, apart from the database and the attachments (B.17).

Default ``instance/keys/keyring.json`` (``make run`` makes ``instance/keys`` 0700); an install made
before keeps its ``instance/keyring.json``; start-up warns, in one line without secrets, when the
keyring shares a directory with the SQLite database or sits in the attachments directory.
"""

from __future__ import annotations

import base64
import json
import logging
import stat
import subprocess
from pathlib import Path

import pytest

from app import create_app
from app.config import Settings
from app.crypto import keyfile as keyring_file
from app.extensions import db
from tests.conftest import TEST_SECRET

PROJECT = Path(__file__).resolve().parent.parent
VENV = PROJECT / ".venv"


def settings_for(instance: Path, **env: str) -> Settings:
    return Settings.from_env({"QZBG_SECRET_KEY": TEST_SECRET, **env}, instance_path=instance)


def test_the_default_keyring_lives_in_a_directory_of_its_own(tmp_path):
    settings = settings_for(tmp_path)
    assert settings.keyring_path == tmp_path / "keys" / "keyring.json"
    assert settings.keyring_path.parent != Path(settings.database_url.removeprefix("sqlite:///")).parent
    assert settings.keyring_shares_directory_with() is None


def test_an_existing_install_keeps_its_keyring_beside_the_database_and_is_warned(tmp_path):
    keyring_file.save(keyring_file.generate(), tmp_path / "keyring.json")
    settings = settings_for(tmp_path)
    assert settings.keyring_path == tmp_path / "keyring.json"
    assert settings.keyring_shares_directory_with() == "database"


def test_the_new_place_wins_once_the_keyring_was_moved_there(tmp_path):
    keyring_file.save(keyring_file.generate(), tmp_path / "keyring.json")
    keyring_file.save(keyring_file.generate(), tmp_path / "keys" / "keyring.json")
    assert settings_for(tmp_path).keyring_path == tmp_path / "keys" / "keyring.json"


def test_qzbg_keyring_is_taken_as_given(tmp_path):
    elsewhere = tmp_path / "vault" / "ring.json"
    keyring_file.save(keyring_file.generate(), tmp_path / "keyring.json")
    assert settings_for(tmp_path, QZBG_KEYRING=str(elsewhere)).keyring_path == elsewhere


@pytest.mark.parametrize(
    ("keyring", "attachments", "database", "shared"),
    [
        ("keys/keyring.json", "attachments", "sqlite:///{root}/qzbg.sqlite3", None),
        ("keyring.json", "attachments", "sqlite:///{root}/qzbg.sqlite3", "database"),
        ("data/keyring.json", "attachments", "sqlite:///{root}/data/qzbg.sqlite3", "database"),
        ("attachments/keyring.json", "attachments", "sqlite:///{root}/qzbg.sqlite3", "attachments"),
        ("attachments/sub/keyring.json", "attachments", "sqlite:///{root}/db/qzbg.sqlite3", "attachments"),
        ("keyring.json", "attachments", "postgresql+psycopg://u@h/qzbg", None),
        ("keyring.json", ".", "postgresql+psycopg://u@h/qzbg", "attachments"),
    ],
)
def test_a_keyring_sharing_a_directory_with_the_data_is_recognised(tmp_path, keyring, attachments, database, shared):
    settings = settings_for(
        tmp_path, QZBG_KEYRING=str(tmp_path / keyring), QZBG_ATTACHMENTS_DIR=str(tmp_path / attachments),
        QZBG_DATABASE_URL=database.format(root=tmp_path),
    )
    assert settings.keyring_shares_directory_with() == shared


def start(settings: Settings):
    app = create_app(settings, {"TESTING": True})
    with app.app_context():
        db.engine.dispose()
    return app


def test_start_up_warns_once_without_secrets_when_the_keyring_sits_beside_the_database(tmp_path, caplog):
    ring = keyring_file.generate()
    keyring_file.save(ring, tmp_path / "keyring.json")
    caplog.set_level(logging.INFO, logger="qzbg")
    start(settings_for(tmp_path))
    [record] = [r for r in caplog.records if r.getMessage() == "keyring_beside_data"]
    assert record.levelno == logging.WARNING
    assert record.shares_directory_with == "database"
    text = json.dumps({k: str(v) for k, v in vars(record).items()})
    for material in (ring.current_kek.key, ring.blind_index_key):
        assert base64.b64encode(material).decode() not in text
        assert material.hex() not in text
    assert TEST_SECRET not in text


def test_start_up_in_the_default_layout_does_not_warn(tmp_path, caplog):
    keyring_file.save(keyring_file.generate(), tmp_path / "keys" / "keyring.json")
    caplog.set_level(logging.INFO, logger="qzbg")
    start(settings_for(tmp_path))
    assert not [r for r in caplog.records if r.getMessage() == "keyring_beside_data"]


def test_make_run_makes_the_keyring_directory_owner_only(tmp_path):
    instance = tmp_path / "instance"
    result = subprocess.run(
        ["make", "-s", f"INSTANCE={instance}", f"VENV={VENV}", str(instance / "keys")],
        cwd=PROJECT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((instance / "keys").stat().st_mode) == 0o700
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
