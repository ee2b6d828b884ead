"""The contract's notification variables (CONTRACT.md, configuration): each read under its exact name, a channel
with none of its variables off, a half-configured channel or a bad value refused at start-up."""

from __future__ import annotations

import pytest

from app.config import ConfigError, Settings

WECOM = {"QZBG_WECOM_CORPID": "ww0123", "QZBG_WECOM_SECRET": "wecom-secret", "QZBG_WECOM_AGENTID": "1000002",
         "QZBG_WECOM_API_BASE": "http://127.0.0.1:8901/"}
SMS = {"QZBG_SMS_SECRET_ID": "AKIDtest", "QZBG_SMS_SECRET_KEY": "sms-key", "QZBG_SMS_SDK_APP_ID": "1400000001",
       "QZBG_SMS_SIGN_NAME": "某市检察院", "QZBG_SMS_TEMPLATE_ID": "2000001",
       "QZBG_SMS_ENDPOINT": "http://127.0.0.1:9000"}


def settings(tmp_path, **extra: str) -> Settings:
    return Settings.from_env({"QZBG_INSTANCE_PATH": str(tmp_path), "QZBG_SECRET_KEY": "s" * 40,
                              "QZBG_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", **extra})


def test_every_channel_is_off_by_default_and_escalation_waits_30_minutes(tmp_path):
    s = settings(tmp_path)
    assert (s.wecom_corpid, s.smtp_url, s.sms_secret_id) == (None, None, None)
    assert s.urgent_escalation_minutes == 30


def test_the_contracts_variables_configure_each_channel_and_the_escalation(tmp_path):
    s = settings(tmp_path, **WECOM, **SMS, QZBG_SMTP_URL="smtp://mailer:pw@mail.example.org:587?starttls=1",
                 QZBG_URGENT_ESCALATION_MINUTES="45")
    assert (s.wecom_corpid, s.wecom_secret, s.wecom_agentid, s.wecom_api_base) == (
        "ww0123", "wecom-secret", "1000002", "http://127.0.0.1:8901")
    assert s.smtp_url == "smtp://mailer:pw@mail.example.org:587?starttls=1"
    assert (s.sms_secret_id, s.sms_secret_key, s.sms_sdk_app_id, s.sms_sign_name, s.sms_template_id,
            s.sms_endpoint) == ("AKIDtest", "sms-key", "1400000001", "某市检察院", "2000001", "http://127.0.0.1:9000")
    assert s.urgent_escalation_minutes == 45


@pytest.mark.parametrize("env", [
    {k: v for k, v in WECOM.items() if k != "QZBG_WECOM_SECRET"},
    {**WECOM, "QZBG_WECOM_AGENTID": "app-one"},
    {k: v for k, v in SMS.items() if k != "QZBG_SMS_SIGN_NAME"},
    {**SMS, "QZBG_SMS_TEMPLATE_ID": "SMS_0001"},
    {**SMS, "QZBG_SMS_ENDPOINT": "sms.tencentcloudapi.com"},
    {"QZBG_SMTP_URL": "mail.example.org:587"},
    {"QZBG_SMTP_URL": "smtp://mail.example.org:587?starttls=maybe"},
    {"QZBG_URGENT_ESCALATION_MINUTES": "0"},
    {"QZBG_URGENT_ESCALATION_MINUTES": "half an hour"},
], ids=["wecom-half", "wecom-agentid", "sms-half", "sms-template", "sms-endpoint", "smtp-url", "smtp-starttls",
        "escalation-zero", "escalation-text"])
def test_a_half_configured_channel_or_a_bad_value_stops_start_up(tmp_path, env):
    with pytest.raises(ConfigError):
        settings(tmp_path, **env)
