"""Start-up fails closed on an unusable keyring or cipher, with one clear ``qzbg: `` line.

Most tests run in-process: ``start`` does what ``wsgi.py`` does for ``flask --app wsgi
...`` (read the settings, build the app, check the keyring against the database) and
returns the one line ``wsgi.py`` would print. Three tests run the real ``flask``
command in a subprocess, to prove that the wiring in ``wsgi.py`` prints that line
alone on stderr and exits non-zero; they are marked slow.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import stat
from pathlib import Path

import flask_migrate
import pytest

from app import create_app
from app.config import ConfigError, Settings
from app.crypto import keyfile as keyring_file
from app.crypto.wiring import check_keyring_matches_database
from app.extensions import db
from tests.conftest import build_app, login_reporter, make_settings
from tests.crypto.helpers import flask_cli

SECRET = "s" * 40


def env_for(instance: Path, **extra: str) -> dict[str, str]:
    return {
        "QZBG_INSTANCE_PATH": str(instance),
        "QZBG_SECRET_KEY": SECRET,
        "QZBG_DATABASE_URL": f"sqlite:///{instance / 'x.sqlite3'}",
        **extra,
    }


def start(env: dict[str, str], *, keys_init: bool = False) -> str | None:
    """What ``wsgi.py`` does at start-up, in this process: None when the app starts, else the line it prints."""
    try:
        app = create_app(Settings.from_env(env), {"TESTING": True}, require_keyring=not keys_init)
        if not keys_init:
            check_keyring_matches_database(app)
    except ConfigError as exc:
        return f"qzbg: {exc}"
    return None


def keys_init(env: dict[str, str]):
    """``flask keys init`` through the click test runner, on an app built as ``wsgi.py`` builds it for that command."""
    app = create_app(Settings.from_env(env), {"TESTING": True}, require_keyring=False)
    return app.test_cli_runner().invoke(args=["keys", "init"])


def assert_one_line(line: str | None, *fragments: str) -> str:
    assert line is not None, "the app started"
    assert "\n" not in line, line
    assert line.startswith("qzbg: "), line
    for fragment in fragments:
        assert fragment in line, line
    return line


def assert_refused_with_one_line(result, *fragments: str) -> str:
    """A real ``flask`` process: non-zero exit, that one line alone on stderr, nothing on stdout."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return assert_one_line(line, *fragments)


def valid_keyring_json() -> dict:
    return json.loads(keyring_file.generate().to_json())


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _mutations() -> dict[str, object]:
    def edit(change):
        def build() -> bytes:
            data = valid_keyring_json()
            change(data)
            return json.dumps(data).encode()

        return build

    def set_kek(field: str, value: object):
        return edit(lambda d: d["keks"][0].__setitem__(field, value))

    return {
        "invalid-json": lambda: b'{"format": "qzbg-keyring/1", ',
        "not-utf8": lambda: b"\xff\xfe\x00garbage",
        "json-array": lambda: b"[]",
        "wrong-format": edit(lambda d: d.__setitem__("format", "qzbg-keyring/0")),
        "no-format": edit(lambda d: d.pop("format")),
        "kek-key-bad-base64": set_kek("key", "!!not*base64!!"),
        "kek-key-too-short": set_kek("key", b64(b"\x01" * 16)),
        "blind-index-key-bad-base64": edit(lambda d: d.__setitem__("blind_index_key", "@@@@")),
        "blind-index-key-missing": edit(lambda d: d.pop("blind_index_key")),
        "current-kek-unknown": edit(lambda d: d.__setitem__("current", "k-00000000-000000")),
        "current-kek-retired": set_kek("key", None),
        "kek-entry-malformed": edit(lambda d: d.__setitem__("keks", ["not-an-object"])),
        "no-keks": edit(lambda d: d.__setitem__("keks", [])),
    }


MUTATIONS = _mutations()


@pytest.mark.slow
def test_start_up_without_a_keyring_file_is_refused_by_the_real_command_with_one_line_naming_the_file_and_the_fix(
    tmp_path,
):
    result = flask_cli("routes", env=env_for(tmp_path))
    line = assert_refused_with_one_line(result, "密钥环", str(tmp_path / "keys" / "keyring.json"), "keys init")
    assert "找不到" in line


def test_start_up_without_a_keyring_file_is_refused_with_one_line_naming_the_file_and_the_fix(tmp_path):
    line = assert_one_line(start(env_for(tmp_path)), "密钥环", str(tmp_path / "keys" / "keyring.json"), "keys init")
    assert "找不到" in line


def test_start_up_with_qzbg_keyring_pointing_nowhere_names_that_path(tmp_path):
    elsewhere = tmp_path / "secrets" / "ring.json"
    keyring_file.save(keyring_file.generate(), tmp_path / "keyring.json")  # the default exists, but is not used
    assert_one_line(start(env_for(tmp_path, QZBG_KEYRING=str(elsewhere))), "密钥环", str(elsewhere))


@pytest.mark.parametrize("build", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_start_up_with_an_unusable_keyring_is_refused_with_one_line_naming_the_keyring(tmp_path, build):
    path = tmp_path / "keyring.json"
    content = build()
    path.write_bytes(content)

    line = assert_one_line(start(env_for(tmp_path)), "密钥环", str(path))

    # Whatever key material the file held is not echoed.
    for material in re.findall(rb"[A-Za-z0-9+/]{40,}={0,2}", content):
        assert material.decode() not in line


@pytest.mark.parametrize(
    ("variable", "value"), [("QZBG_FIELD_CIPHER", "des"), ("QZBG_FIELD_CIPHER", "AES"), ("QZBG_BLIND_INDEX", "md5")]
)
def test_start_up_with_an_unknown_cipher_setting_is_refused_with_one_line(tmp_path, variable, value):
    keyring_file.save(keyring_file.generate(), tmp_path / "keyring.json")
    assert_one_line(start(env_for(tmp_path, **{variable: value})), variable)


def test_start_up_with_a_good_keyring_and_sm4_succeeds(tmp_path):
    keyring_file.save(keyring_file.generate(), tmp_path / "keyring.json")
    env = env_for(tmp_path, QZBG_FIELD_CIPHER="sm4-gcm", QZBG_BLIND_INDEX="hmac-sm3")
    assert start(env) is None
    app = create_app(Settings.from_env(env), {"TESTING": True})
    assert "/api/v1/reports" in {rule.rule for rule in app.url_map.iter_rules()}
    assert app.extensions["qzbg.vault"].field_cipher == "sm4-gcm"


@pytest.mark.slow
def test_keys_init_by_the_real_command_creates_a_keyring_where_none_exists_and_the_app_then_starts(tmp_path):
    # wsgi.py lets `keys init` alone start without a keyring.
    path = tmp_path / "nested" / "keyring.json"
    env = env_for(tmp_path, QZBG_KEYRING=str(path))

    result = flask_cli("keys", "init", env=env)

    assert result.returncode == 0, result.stderr
    ring = keyring_file.load(path)
    assert f"keyring created: {path} (current key {ring.current})" in result.stdout
    assert flask_cli("routes", env=env).returncode == 0


def test_keys_init_creates_an_owner_only_keyring_where_none_exists_and_the_app_then_starts(tmp_path):
    path = tmp_path / "nested" / "keyring.json"
    env = env_for(tmp_path, QZBG_KEYRING=str(path))
    assert start(env) is not None

    result = keys_init(env)

    assert result.exit_code == 0, result.output
    ring = keyring_file.load(path)
    assert f"keyring created: {path} (current key {ring.current})" in result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(ring.keks) == 1
    assert ring.current_kek.key != ring.blind_index_key
    assert start(env) is None


def test_keys_init_leaves_an_existing_keyring_untouched(tmp_path):
    path = tmp_path / "keyring.json"
    keyring_file.save(keyring_file.generate(), path)
    before = path.read_bytes()

    result = keys_init(env_for(tmp_path))

    assert result.exit_code == 0, result.output
    assert f"keyring exists: {path} (unchanged)" in result.output
    assert path.read_bytes() == before


def test_keys_init_refuses_and_does_not_overwrite_a_broken_keyring(tmp_path):
    path = tmp_path / "keyring.json"
    path.write_text("{broken")

    # An existing keyring file is read (and must be sound) even for `keys init`.
    assert_one_line(start(env_for(tmp_path), keys_init=True), "密钥环", str(path))
    assert path.read_text() == "{broken"


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance with a keyring and a migrated database holding one stored data key (keyring A's)."""
    instance = tmp_path_factory.mktemp("migrated")
    env = env_for(instance)
    assert keys_init(env).exit_code == 0
    keyring_path = instance / "keys" / "keyring.json"  # where `keys init` puts it by default
    app = build_app(make_settings(instance, env["QZBG_DATABASE_URL"], keyring_path=keyring_path))
    (instance / "keyring.json").unlink()  # make_settings' own, unused here
    with app.app_context():
        flask_migrate.upgrade()
        login_reporter("o-startup")  # a reporter account: one data key wrapped under keyring A
        db.session.remove()
        db.engine.dispose()
    assert start(env) is None
    return instance


@pytest.fixture
def migrated_instance(migrated_template: Path, tmp_path: Path) -> Path:
    """A private copy of the template instance (keyring and database), for a test to break."""
    instance = tmp_path / "instance"
    shutil.copytree(migrated_template, instance)
    return instance


@pytest.mark.slow
def test_start_up_of_the_real_command_with_a_keyring_that_cannot_unwrap_stored_data_keys_is_refused(
    migrated_instance,
):
    path = migrated_instance / "keys" / "keyring.json"
    needed = keyring_file.load(path).current
    keyring_file.save(keyring_file.generate(), path)

    result = flask_cli("routes", env=env_for(migrated_instance))

    assert_refused_with_one_line(result, "密钥环与数据库不匹配", needed)


def test_start_up_with_a_freshly_generated_keyring_that_cannot_unwrap_stored_data_keys_is_refused(
    migrated_instance,
):
    path = migrated_instance / "keys" / "keyring.json"
    needed = keyring_file.load(path).current
    keyring_file.save(keyring_file.generate(), path)

    assert_one_line(start(env_for(migrated_instance)), "密钥环与数据库不匹配", needed)


def test_start_up_with_the_right_kek_id_but_other_key_material_is_refused(migrated_instance):
    path = migrated_instance / "keys" / "keyring.json"
    ring = keyring_file.load(path)
    impostor = keyring_file.Kek(id=ring.current, key=secrets.token_bytes(32), created_at=ring.current_kek.created_at)
    keyring_file.save(keyring_file.Keyring(ring.current, (impostor,), ring.blind_index_key), path)

    assert_one_line(start(env_for(migrated_instance)), "密钥环与数据库不匹配", ring.current)


def test_start_up_with_the_kek_that_stored_data_keys_need_destroyed_is_refused(migrated_instance):
    # Retiring behind the CLI's back (which would have refused): the data key's KEK is gone.
    path = migrated_instance / "keys" / "keyring.json"
    ring = keyring_file.load(path)
    old = ring.current
    keyring_file.save(keyring_file.with_retired(keyring_file.with_new_kek(ring), old), path)

    assert_one_line(start(env_for(migrated_instance)), "密钥环与数据库不匹配", old)
