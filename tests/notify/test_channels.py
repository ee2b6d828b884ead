"""Each staff channel against its fake over loopback: what a delivered message looks like at the provider, and
which answers are retried later (Retry) and which end the message (GiveUp)."""

from __future__ import annotations

import datetime as dt
import json
import socket

import pytest
from sqlalchemy import select

from app.extensions import db
from app.notify import worker
from app.notify.channels import configured_channels
from app.notify.models import OutboxMessage
from app.notify.registry import channels
from tests.factories import create_report
from tests.notify.conftest import channel_settings, staff_member


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rows(channel: str) -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == channel)))


def one(channel: str) -> OutboxMessage:
    [row] = rows(channel)
    return row


def deliver(at: dt.datetime | None = None) -> dict[str, int]:
    return worker.deliver_due(now=at or now())


def new_report(**kwargs):
    report = create_report(commit=False, **kwargs)
    db.session.commit()
    return report


# -- WeCom ------------------------------------------------------------------

@pytest.fixture
def wecom_app(make_app, wecom):
    app = make_app(**channel_settings(wecom=wecom))
    staff_member("wang", wecom="WangJian")
    db.session.commit()
    return app


def sends(fake) -> int:
    return len([c for c in fake.calls if c.path == "/cgi-bin/message/send"])


def test_only_configured_channels_are_delivered_on_and_readyz_can_name_them(wecom_app):
    assert configured_channels(wecom_app.config["QZBG"]) == ["wecom", "sandbox"]
    assert sorted(channels(wecom_app.config["QZBG"])) == ["sandbox", "wecom"]
    ready = wecom_app.test_client().get("/readyz")
    assert ready.get_json()["channels"] == ["wecom", "sandbox"]
    assert wecom_app.config["QZBG"].wecom_secret not in ready.get_data(as_text=True)


def test_a_new_report_reaches_the_prosecutor_on_duty_as_a_wecom_text_card(wecom_app, wecom):
    report = new_report()
    assert deliver() == {"sent": 1, "retry": 0, "dead": 0}
    [sent] = wecom.wecom_sent
    assert sent["touser"] == "WangJian"
    assert sent["agentid"] == wecom.wecom_agentid
    assert sent["msgtype"] == "textcard"
    assert sent["enable_duplicate_check"] == 1
    assert sent["textcard"]["url"] == f"https://qzbg.example.org/review/reports/{report.id}"
    assert report.tracking_no in sent["textcard"]["title"]
    assert one("wecom").state == "sent"


def test_a_redelivered_wecom_message_is_dropped_by_the_duplicate_check(wecom_app, wecom):
    new_report()
    message = one("wecom")
    deliver()
    message.state, message.next_attempt_at = "pending", now()  # as if its worker died before recording
    db.session.commit()
    assert deliver() == {"sent": 1, "retry": 0, "dead": 0}
    assert (len(wecom.wecom_sent), wecom.wecom_duplicates) == (1, 1)


def test_the_wecom_token_is_fetched_once_and_an_expired_one_refreshed_once(wecom_app, wecom):
    new_report()
    new_report()
    assert deliver()["sent"] == 2
    assert wecom.wecom_token_fetches == 1
    wecom.wecom_expire_tokens()  # WeCom answers 42001 to the token every worker holds
    new_report()
    assert deliver() == {"sent": 1, "retry": 0, "dead": 0}
    assert wecom.wecom_token_fetches == 2
    assert sends(wecom) == 4  # three messages, one of them twice


def test_workers_share_one_wecom_token_through_the_shared_store(wecom_app, wecom):
    from concurrent.futures import ThreadPoolExecutor

    from app.clients.tokens import shared_cache
    from app.clients.wecom import WeComClient

    s = wecom_app.config["QZBG"]

    def other_worker() -> WeComClient:  # its own client and in-process state, as another worker process has
        return WeComClient(s.wecom_corpid, s.wecom_secret, s.wecom_agentid, s.wecom_api_base, s.notify_timeout,
                           shared_cache(s, f"wecom-{s.wecom_corpid}-{s.wecom_agentid}"))

    workers = [other_worker() for _ in range(6)]
    card = {"title": "t", "description": "d", "url": "https://qzbg.example.org/review/"}

    def send(client: WeComClient) -> None:
        with wecom_app.app_context():
            client.send_textcard("WangJian", card)

    for _ in range(2):  # every worker at once; then again after WeCom expired the token they all hold
        with ThreadPoolExecutor(len(workers)) as pool:
            list(pool.map(send, workers))
        wecom.wecom_expire_tokens()
    assert wecom.wecom_token_fetches == 2  # one fetch per expiry, not one per worker
    assert sends(wecom) == 6 + 6 + 6  # the second round: each worker's first try hit 42001 once


@pytest.mark.parametrize("code", [42001, 40014])
def test_a_token_refused_again_after_its_one_refresh_is_retried_later(wecom_app, wecom, code):
    new_report()
    wecom.wecom_fail(code, times=2)
    assert deliver() == {"sent": 0, "retry": 1, "dead": 0}
    assert sends(wecom) == 2
    assert one("wecom").last_error == f"wecom:{code}"
    assert deliver(now() + dt.timedelta(minutes=10)) == {"sent": 1, "retry": 0, "dead": 0}


def test_a_user_outside_the_apps_visible_range_ends_the_message_with_a_clear_reason(wecom_app, wecom):
    wecom.wecom_hidden = {"WangJian"}
    new_report()
    assert deliver() == {"sent": 0, "retry": 0, "dead": 1}
    assert one("wecom").last_error == "wecom:81013:recipient_not_visible"


def test_an_untrusted_server_address_60020_ends_the_message_for_an_admin_to_fix(wecom_app, wecom):
    new_report()
    wecom.wecom_fail(60020)
    assert deliver() == {"sent": 0, "retry": 0, "dead": 1}
    assert one("wecom").last_error == "wecom:60020:ip_not_trusted"


def test_a_recipient_named_in_invaliduser_is_not_counted_as_delivered(wecom_app, wecom):
    from app.clients.wecom import get_wecom
    from app.notify.channels import GiveUp

    wecom.wecom_hidden = {"Ghost"}
    card = {"title": "t", "description": "d", "url": "https://x/"}
    with pytest.raises(GiveUp, match="invaliduser"):  # WeCom answers 0, naming Ghost in invaliduser
        get_wecom().send_textcard("Ghost|Nobody", card)
    with pytest.raises(GiveUp, match="81013"):  # every recipient invisible
        get_wecom().send_textcard("Ghost", card)
    get_wecom().send_textcard("Nobody", card)
    assert [s["touser"] for s in wecom.wecom_sent] == ["Ghost|Nobody", "Nobody"]


@pytest.mark.parametrize("code", [45009, 45033, -1])
def test_wecom_limits_and_busy_are_retried_later(wecom_app, wecom, code):
    new_report()
    wecom.wecom_fail(code)
    assert deliver() == {"sent": 0, "retry": 1, "dead": 0}
    message = one("wecom")
    assert (message.state, message.last_error) == ("pending", f"wecom:{code}")
    assert message.next_attempt_at > now()
    assert deliver(now() + dt.timedelta(minutes=10)) == {"sent": 1, "retry": 0, "dead": 0}


def test_wecom_down_or_hanging_is_retried_later(wecom_app, wecom):
    new_report()
    wecom.mode = "error_5xx"
    assert deliver() == {"sent": 0, "retry": 1, "dead": 0}
    assert one("wecom").last_error == "wecom:gettoken_unavailable"
    wecom.mode, wecom.hang_seconds = "hang", 4  # past the 3-second timeout of these tests
    assert deliver(now() + dt.timedelta(minutes=10)) == {"sent": 0, "retry": 1, "dead": 0}
    wecom.mode = "normal"
    assert deliver(now() + dt.timedelta(minutes=30)) == {"sent": 1, "retry": 0, "dead": 0}


# -- e-mail -----------------------------------------------------------------

@pytest.fixture
def mail_app(make_app, smtp):
    app = make_app(**channel_settings(smtp=smtp))
    staff_member("lina", email="li@example.org")
    db.session.commit()
    return app


def test_an_email_goes_over_starttls_with_auth_as_text_and_html_with_the_rows_message_id(mail_app, smtp):
    report = new_report()
    assert deliver() == {"sent": 1, "retry": 0, "dead": 0}
    [mail] = smtp.mailbox.received
    row = one("email")
    assert mail["To"] == "li@example.org"
    assert mail["From"] == "qzbg@example.org"
    assert mail["Message-ID"] == f"<{row.id}@example.org>"
    assert report.tracking_no in mail["Subject"]
    assert mail.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in mail.iter_parts())
    assert f"https://qzbg.example.org/review/reports/{report.id}" in text
    assert f'href="https://qzbg.example.org/review/reports/{report.id}"' in html


def test_a_temporary_smtp_answer_is_retried_and_the_message_id_stays_the_same(mail_app, smtp):
    new_report()
    smtp.mailbox.data_answer = "451 4.3.0 Try again later"
    assert deliver() == {"sent": 0, "retry": 1, "dead": 0}
    assert one("email").last_error == "smtp:data:451"
    smtp.mailbox.data_answer = None
    assert deliver(now() + dt.timedelta(minutes=10)) == {"sent": 1, "retry": 0, "dead": 0}
    assert smtp.mailbox.received[0]["Message-ID"] == f"<{one('email').id}@example.org>"


def test_a_refused_recipient_ends_the_email(mail_app, smtp):
    new_report()
    smtp.mailbox.rcpt_answer = "550 5.1.1 No such user"
    assert deliver() == {"sent": 0, "retry": 0, "dead": 1}
    assert one("email").last_error == "smtp:rcpt:550"


def test_a_connection_dropped_mid_data_is_retried_and_the_mail_arrives_once(mail_app, smtp):
    new_report()
    smtp.mailbox.drop_data = True
    assert deliver() == {"sent": 0, "retry": 1, "dead": 0}
    assert one("email").last_error == "smtp:disconnected"
    assert smtp.mailbox.received == []
    smtp.mailbox.drop_data = False
    assert deliver(now() + dt.timedelta(minutes=10)) == {"sent": 1, "retry": 0, "dead": 0}
    assert len(smtp.mailbox.received) == 1


def test_a_mailbox_name_not_allowed_553_ends_the_email(mail_app, smtp):
    new_report()
    smtp.mailbox.rcpt_answer = "553 5.1.3 Mailbox name not allowed"
    assert deliver() == {"sent": 0, "retry": 0, "dead": 1}
    assert one("email").last_error == "smtp:rcpt:553"


def test_a_certificate_not_trusted_is_never_sent_to_and_retried(make_app, smtp):
    settings = channel_settings(smtp=smtp)
    settings["smtp_ca_file"] = None  # the test's self-signed certificate is not in the system's store
    make_app(**settings)
    staff_member("lina", email="li@example.org")
    new_report()
    assert deliver() == {"sent": 0, "retry": 1, "dead": 0}
    assert one("email").last_error == "smtp:tls"
    assert smtp.mailbox.received == []


def test_wrong_smtp_credentials_and_a_closed_port_are_retried(make_app, smtp):
    settings = channel_settings(smtp=smtp)
    make_app(**{**settings, "smtp_url": smtp.url.replace("password", "wrong")})
    staff_member("lina", email="li@example.org")
    new_report()
    assert deliver() == {"sent": 0, "retry": 1, "dead": 0}
    # smtplib tries each mechanism the server offers; aiosmtpd answers 535, then hangs up on the next try
    assert one("email").last_error in ("smtp:auth:535", "smtp:disconnected")
    assert smtp.mailbox.received == []

    from app.clients.smtp import Mailer
    from app.notify.channels import Retry

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    mailer = Mailer(f"smtp://127.0.0.1:{closed}", "qzbg@example.org", None, 3)
    with pytest.raises(Retry, match="smtp:unreachable"):
        mailer.send(mailer.build("li@example.org", "s", "t", "<p>t</p>", "x"))


# -- SMS --------------------------------------------------------------------

@pytest.fixture
def sms_app(make_app, sms):
    app = make_app(**channel_settings(sms=sms))
    staff_member("zhao", mobile="13912340000")
    db.session.commit()
    return app


def test_an_sms_is_a_signed_sendsms_with_the_approved_template_and_three_values(sms_app, sms):
    report = new_report()
    assert deliver() == {"sent": 1, "retry": 0, "dead": 0}
    [sent] = sms.sent
    assert sent["phone"] == "+8613912340000"
    assert (sent["template"], sent["sign"]) == ("2000001", sms.sign_name)
    assert sent["params"][1] == report.tracking_no
    assert len(sent["params"]) == 3
    assert all(len(p) <= 16 for p in sent["params"])
    assert one("sms").state == "sent"


@pytest.mark.parametrize("code", ["LimitExceeded.PhoneNumberDailyLimit", "LimitExceeded.PhoneNumberThirtySecondLimit"])
def test_a_numbers_sending_limit_is_retried_later(sms_app, sms, code):
    sms.number_codes["+8613912340000"] = code
    new_report()
    assert deliver() == {"sent": 0, "retry": 1, "dead": 0}
    assert one("sms").last_error == f"sms:{code}"
    sms.number_codes.clear()
    assert deliver(now() + dt.timedelta(minutes=10)) == {"sent": 1, "retry": 0, "dead": 0}


@pytest.mark.parametrize("code", ["RequestLimitExceeded", "InternalError.Timeout"])
def test_a_whole_request_refused_for_now_is_retried_later(sms_app, sms, code):
    sms.fail_next(code)
    new_report()
    assert deliver() == {"sent": 0, "retry": 1, "dead": 0}
    assert one("sms").last_error == f"sms:{code}"


def test_a_blacklisted_or_malformed_number_ends_the_sms(make_app, sms):
    make_app(**channel_settings(sms=sms))
    staff_member("zhao", mobile="13912340000")
    staff_member("qian", mobile="1391234")
    sms.blacklist.add("+8613912340000")
    new_report()
    assert deliver() == {"sent": 0, "retry": 0, "dead": 2}
    assert sorted(m.last_error for m in rows("sms")) == [
        "sms:FailedOperation.PhoneNumberInBlacklist", "sms:InvalidParameterValue.IncorrectPhoneNumber"]


def test_a_wrong_secret_key_fails_the_fakes_signature_check_and_is_retried(make_app, sms):
    make_app(**{**channel_settings(sms=sms), "sms_secret_key": "not-the-key"})
    staff_member("zhao", mobile="13912340000")
    new_report()
    assert deliver() == {"sent": 0, "retry": 1, "dead": 0}
    assert one("sms").last_error == "sms:AuthFailure.SignatureFailure"
    assert sms.sent == []


def test_sms_provider_down_is_retried(sms_app, sms):
    sms.mode = "error_5xx"
    new_report()
    assert deliver() == {"sent": 0, "retry": 1, "dead": 0}
    assert one("sms").last_error == "sms:ServerNetworkError"
    sms.mode = "normal"
    assert deliver(now() + dt.timedelta(minutes=10)) == {"sent": 1, "retry": 0, "dead": 0}
    body = json.loads(sms.requests[-1])
    assert body["PhoneNumberSet"] == ["+8613912340000"]
