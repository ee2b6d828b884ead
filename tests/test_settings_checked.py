"""Every setting is checked when the settings are read: a bad value stops start-up with one line naming it,
never a traceback later in ``create_app``."""

from __future__ import annotations

import pytest

from app.config import ConfigError, Settings


def settings(tmp_path, **extra: str) -> Settings:
    return Settings.from_env({"QZBG_INSTANCE_PATH": str(tmp_path), "QZBG_SECRET_KEY": "s" * 40,
                              "QZBG_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", **extra})


@pytest.mark.parametrize(("name", "value"), [
    ("QZBG_LOG_LEVEL", "bogus"),
    ("QZBG_LOOKUP_RATE_LIMIT", "many"),
    ("QZBG_LOGIN_RATE_LIMIT", "20 per fortnight"),
    ("QZBG_STEP_UP_MINUTES", "241"),
    ("QZBG_STEP_UP_MINUTES", "-1"),
    ("QZBG_AUDIT_HASH", "md5"),
    ("QZBG_AUDIT_HASH", "hmac-sha256"),
])
def test_a_bad_value_stops_start_up_naming_the_setting(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        settings(tmp_path, **{name: value})


def test_the_log_level_is_read_in_any_case_and_the_limits_as_given(tmp_path):
    s = settings(tmp_path, QZBG_LOG_LEVEL="warning", QZBG_LOGIN_RATE_LIMIT="30 per minute",
                 QZBG_STEP_UP_MINUTES="0")
    assert (s.log_level, s.login_rate_limit, s.step_up_minutes) == ("WARNING", "30 per minute", 0)


def test_the_audit_chain_follows_the_blind_index_family_unless_set(tmp_path):
    assert settings(tmp_path).audit_hash == "sha256"
    assert settings(tmp_path, QZBG_BLIND_INDEX="hmac-sm3").audit_hash == "sm3"
    assert settings(tmp_path, QZBG_BLIND_INDEX="hmac-sm3", QZBG_AUDIT_HASH="sha256").audit_hash == "sha256"
    assert settings(tmp_path, QZBG_AUDIT_HASH="sm3").audit_hash == "sm3"
