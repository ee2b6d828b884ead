"""A training room is one address (issue 15 item 4): 300 trainees on one Wi-Fi behind NAT all log in to the
mini-program and send a practice report. A practice report reaches no real channel, so it is held to a training
room's per-address ceiling (QZBG_TRAINING_ROOM_RATE_LIMIT), counted apart, in any deployment, and a training
deployment holds everything per address to it; real reports of a real deployment keep a hospital's ceiling, and
every reporter keeps their own limit. The limits here are the shipped defaults, not the suite's relaxed ones."""

from __future__ import annotations

import pytest
from flask import g

from app.config import Settings
from tests.conftest import login_reporter
from tests.factories import report_body
from tests.reports.test_web import filled, open_form, post_form
from tests.wechat.conftest import wechat_settings

ROOM = {"REMOTE_ADDR": "10.88.0.1"}  # the training room's Wi-Fi, one address behind NAT
TRAINEES = 300
DEFAULT_LIMITS = {name: getattr(Settings, name) for name in ("intake_rate_limit", "intake_ip_rate_limit",
                                                              "lookup_rate_limit")}


def practice_report() -> dict:
    return report_body(training=True)


@pytest.mark.slow
def test_three_hundred_trainees_behind_one_address_all_log_in_and_send_a_practice_report(make_app, fake):
    app = make_app(training=True, **DEFAULT_LIMITS, **wechat_settings(fake))
    client = app.test_client()
    statuses: dict[str, int] = {}
    for n in range(TRAINEES):
        login = client.post("/api/v1/auth/wechat", json={"code": f"dev-trainee-{n:03d}"}, environ_base=ROOM)
        statuses[f"login {login.status_code}"] = statuses.get(f"login {login.status_code}", 0) + 1
        if login.status_code != 200:
            continue
        sent = client.post("/api/v1/reports", json=practice_report(), environ_base=ROOM,
                           headers={"Authorization": f"Bearer {login.json['token']}"})
        statuses[f"report {sent.status_code}"] = statuses.get(f"report {sent.status_code}", 0) + 1
    assert statuses == {"login 200": TRAINEES, "report 201": TRAINEES}


def test_a_training_deployment_holds_every_per_address_limit_to_the_training_rooms(make_app):
    settings = make_app(training=True, **DEFAULT_LIMITS).config["QZBG"]
    for limit in (settings.login_rate_limit, settings.staff_login_rate_limit, settings.lookup_rate_limit):
        assert settings.per_address(limit) == settings.training_room_rate_limit == "3000 per hour;600 per minute"
    real = settings.replace(training=False)
    assert real.per_address(real.login_rate_limit) == "60 per hour;20 per minute"


def test_real_reports_from_one_address_keep_a_hospitals_ceiling_while_practice_reports_there_go_on(make_app):
    app = make_app(**DEFAULT_LIMITS)
    client = app.test_client()

    def send(n: int, *, practice: bool) -> int:
        who = login_reporter(f"o-{'practice' if practice else 'real'}-{n}")
        body = practice_report() if practice else report_body()
        return client.post("/api/v1/reports", json=body, headers=who.headers, environ_base=ROOM).status_code

    assert [send(n, practice=False) for n in range(31)] == [201] * 30 + [429]
    # The hospital's quota is spent; a room's practice reports are counted apart and go on.
    assert [send(n, practice=True) for n in range(40)] == [201] * 40
    assert send(99, practice=False) == 429


def test_practice_reports_of_a_room_do_not_spend_the_addresss_quota_of_real_reports(make_app):
    app = make_app(**DEFAULT_LIMITS)
    client = app.test_client()
    for n in range(40):
        who = login_reporter(f"o-practice-{n}")
        assert client.post("/api/v1/reports", json=practice_report(), headers=who.headers,
                           environ_base=ROOM).status_code == 201
    doctor = login_reporter("o-doctor")
    assert client.post("/api/v1/reports", json=report_body(), headers=doctor.headers,
                       environ_base=ROOM).status_code == 201


def test_each_trainee_keeps_their_own_limit_on_practice_reports(make_app):
    app = make_app(training=True, **DEFAULT_LIMITS)
    client = app.test_client()
    trainee = login_reporter("o-eager-trainee")
    statuses = [client.post("/api/v1/reports", json=practice_report(), headers=trainee.headers,
                            environ_base=ROOM).status_code for _ in range(6)]
    assert statuses == [201] * 5 + [429]


def test_a_body_that_only_claims_practice_in_a_wrong_form_is_held_to_the_real_ceiling(make_app):
    """Only ``"training": true`` picks the room's ceiling; anything else is refused by the schema as usual and
    spends nothing, and a real report is never let through as practice."""
    app = make_app(**{**DEFAULT_LIMITS, "intake_ip_rate_limit": "1 per minute"})
    client = app.test_client()
    first, second = login_reporter("o-first"), login_reporter("o-second")
    assert client.post("/api/v1/reports", json=report_body(), headers=first.headers,
                       environ_base=ROOM).status_code == 201
    claimed = client.post("/api/v1/reports", json=report_body(training="yes"), headers=second.headers,
                          environ_base=ROOM)
    assert claimed.status_code == 429
    assert client.post("/api/v1/reports", json=report_body(training=False), headers=second.headers,
                       environ_base=ROOM).status_code == 429


def test_web_form_practice_reports_from_one_address_are_held_to_the_rooms_ceiling(make_app):
    app = make_app(**{**DEFAULT_LIMITS, "intake_ip_rate_limit": "2 per minute"})
    statuses = []
    for _ in range(4):
        browser = app.test_client()
        g.pop("csrf_token", None)  # the test's app context outlives requests: Flask-WTF caches the token on g
        _doc, hidden = open_form(browser, "?training=1")
        statuses.append(post_form(browser, filled(hidden, training="1"), environ_base=ROOM).status_code)
    assert statuses == [303] * 4
    browser = app.test_client()
    g.pop("csrf_token", None)
    _doc, hidden = open_form(browser)
    assert post_form(browser, filled(hidden), environ_base=ROOM).status_code == 303
