"""The mini-program's whole path over HTTP against the fake WeChat, and what reached WeChat.

scene -> login -> phone -> categories -> submit -> photo -> list -> detail with timeline
-> subscription -> status change -> subscribe message at the fake, with no personal data
in anything the fake received.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid

import requests
from PIL import Image

from app.extensions import db
from app.notify.worker import deliver_due
from app.reports import service as reports
from app.reports.models import Report
from tests.factories import PROSECUTOR, report_body
from tests.wechat.conftest import TEMPLATE

PERSONAL = {
    "reporter.name": "路径测试报告人甲",
    "victim.name": "路径测试孩子乙",
    "victim.address": "路径测试街道丙号",
    "incident.description": "路径测试：孩子手臂有多处淤青，称被继父打伤。",
    "suspect.name": "路径测试继父丁",
}


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (180, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def test_mini_program_path_end_to_end(live_url, fake, unit):
    http = requests.Session()
    api = f"{live_url}/api/v1"
    unit_code, unit_name = unit.code, unit.name
    db.session.rollback()  # hold no transaction while the server works (SQLite: one writer)

    scanned = http.get(f"{api}/units/scene/{unit_code}", timeout=5)
    assert scanned.status_code == 200
    assert scanned.json()["name"] == unit_name

    login = http.post(f"{api}/auth/wechat", json={"code": "dev-nurse"}, timeout=5).json()
    http.headers["Authorization"] = f"Bearer {login['token']}"
    phone = http.post(f"{api}/auth/phone", json={"code": "phone-13955556666"}, timeout=5).json()
    assert phone["phone_masked"] == "139****6666"
    me = http.get(f"{api}/me", timeout=5).json()

    categories = http.get(f"{api}/categories", timeout=5).json()["items"]
    body = report_body(categories=[categories[3]["code"]], unit_id=scanned.json()["id"])
    body["reporter"].update(name=PERSONAL["reporter.name"], phone=me["phone"])
    body["victim"].update(name=PERSONAL["victim.name"], address=PERSONAL["victim.address"])
    body["incident"]["description"] = PERSONAL["incident.description"]
    body["suspect"]["name"] = PERSONAL["suspect.name"]
    created = http.post(f"{api}/reports", json=body, timeout=5)
    assert created.status_code == 201, created.text
    report_id = created.json()["id"]

    uploaded = http.post(
        f"{api}/reports/{report_id}/attachments", files={"file": ("伤情.jpg", photo(), "image/jpeg")}, timeout=5
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["content_type"] == "image/jpeg"

    listed = http.get(f"{api}/reports", timeout=5).json()["items"]
    assert [r["id"] for r in listed] == [report_id]
    granted = http.post(f"{api}/subscriptions", json={"template_ids": [TEMPLATE]}, timeout=5).json()
    assert granted == {"granted": {TEMPLATE: 1}}
    fake.grant("o-dev-nurse", TEMPLATE)  # the user tapped 允许 in wx.requestSubscribeMessage

    # A prosecutor acknowledges the report (the review pages will call the same service).
    db.session.rollback()
    report = db.session.get(Report, uuid.UUID(report_id))
    reports.change_status(report, "acknowledge", actor=PROSECUTOR, now=dt.datetime.now(dt.UTC))
    db.session.commit()
    assert deliver_due(now=dt.datetime.now(dt.UTC))["sent"] == 1
    db.session.rollback()

    detail = http.get(f"{api}/reports/{report_id}", timeout=5).json()
    assert [t["status"] for t in detail["timeline"]] == ["submitted", "received"]
    assert detail["status_label"] == "已受理"
    assert detail["attachments"][0]["filename"] == "伤情.jpg"

    [message] = fake.sent
    assert message["touser"] == "o-dev-nurse"
    assert message["data"]["character_string1"]["value"] == created.json()["tracking_no"]
    # Everything we sent to WeChat, less the getPhoneNumber code: the fake's codes spell the number
    # that WeChat itself holds; real ones are opaque.
    everything_sent = b"\n".join(
        c.body + repr(c.query).encode("unicode_escape") + repr(c.query).encode()
        for c in fake.calls if c.path != "/wxa/business/getuserphonenumber"
    )
    for value in [*PERSONAL.values(), "13955556666", body["reporter"]["phone"]]:
        assert value.encode() not in everything_sent, value
    relogin = http.post(f"{api}/auth/wechat", json={"code": "dev-nurse-2"}, timeout=5).json()
    assert relogin["reporter"]["unit"] is None  # another WeChat user
    fake.used_codes.discard("dev-nurse")
    again = http.post(f"{api}/auth/wechat", json={"code": "dev-nurse"}, timeout=5).json()
    assert again["reporter"]["unit"]["code"] == unit_code  # remembered from the report
    assert again["reporter"]["phone_verified"] is True
