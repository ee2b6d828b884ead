"""The institutional API (CONTRACT.md "Institutional API"), driven by a fake hospital information system that
signs its requests as a real one would: a signed report is taken like any other (sealed, routed to the unit's
office, its channel ``institution``), a retry of the same record answers the first report; every bad signature,
unknown or revoked key, stale timestamp or replayed nonce is a 401 that stores nothing; keys rotate and revoke."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import secrets
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.institutions import signing
from app.institutions.models import InstitutionKey, InstitutionNonce
from app.notify.models import OutboxMessage
from app.reports.models import Report
from tests.factories import create_staff, create_unit, report_body

PATH = "/api/v1/institutional/reports"


@dataclasses.dataclass
class FakeHospital:
    """A hospital information system: it holds a key id and secret and signs each request it sends."""

    client: Any
    key_id: str
    secret: str
    algorithm: str = "hmac-sha256"

    def headers(self, body: bytes, *, timestamp: int | None = None, nonce: str | None = None,
                secret: str | None = None, method: str = "POST", path: str = PATH) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_urlsafe(18)
        message = signing.canonical(method, path, stamp, nonce, body)
        return {"X-QZBG-Key-Id": self.key_id, "X-QZBG-Timestamp": stamp, "X-QZBG-Nonce": nonce,
                "X-QZBG-Signature": signing.sign((secret or self.secret).encode(), message,
                                                 algorithm=self.algorithm),
                "Content-Type": "application/json"}

    def send(self, record_id: str, body: dict[str, Any] | None = None, **signing_options: Any) -> Any:
        raw = json.dumps({**(body or report_body()), "source_record_id": record_id}, ensure_ascii=False).encode()
        return self.client.post(PATH, data=raw, headers=self.headers(raw, **signing_options))


def registered(runner, *args: str) -> tuple[str, str]:
    result = runner.invoke(args=["institutions", "add", *args])
    assert result.exit_code == 0, result.output
    key_id = re.search(r"^key id: (\S+)$", result.output, re.M).group(1)
    secret = re.search(r"^secret: (\S+)$", result.output, re.M).group(1)
    return key_id, secret


@pytest.fixture
def hospital(app, client, runner) -> FakeHospital:
    create_unit("fy-hospital", name="市妇幼保健院")
    create_staff(role="prosecutor")
    db.session.commit()
    return FakeHospital(client, *registered(runner, "fy-his", "市妇幼HIS", "--unit", "fy-hospital"))


def reports_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Report))


def test_a_signed_report_is_taken_like_any_other_and_a_retry_answers_the_first(app, hospital):
    answer = hospital.send("HIS-2026-0001")
    assert answer.status_code == 201, answer.json
    report = db.session.get(Report, uuid.UUID(answer.json["id"]))
    assert (report.channel, report.unit.code, report.status) == ("institution", "fy-hospital", "new")
    assert report.tracking_no == answer.json["tracking_no"]
    assert report.section("victim")["name"] == "小花"  # sealed, and opens
    assert db.session.scalars(select(OutboxMessage).where(OutboxMessage.report_id == report.id)).first()
    again = hospital.send("HIS-2026-0001")
    assert (again.status_code, again.json["id"]) == (200, answer.json["id"])
    assert reports_count() == 1
    assert hospital.send("HIS-2026-0002").status_code == 201
    assert reports_count() == 2


@pytest.mark.parametrize("spoil", ["secret", "timestamp_old", "timestamp_future", "key", "missing", "nonce_short",
                                   "path", "body"])
def test_every_bad_signature_is_a_401_that_stores_nothing(app, hospital, spoil):
    raw = json.dumps({**report_body(), "source_record_id": "R1"}).encode()
    headers = hospital.headers(raw)
    if spoil == "secret":
        headers = hospital.headers(raw, secret=secrets.token_urlsafe(32))
    elif spoil == "timestamp_old":
        headers = hospital.headers(raw, timestamp=int(time.time()) - 301)
    elif spoil == "timestamp_future":
        headers = hospital.headers(raw, timestamp=int(time.time()) + 301)
    elif spoil == "key":
        headers["X-QZBG-Key-Id"] = "ik" + "0" * 20
    elif spoil == "missing":
        del headers["X-QZBG-Signature"]
    elif spoil == "nonce_short":
        headers = hospital.headers(raw, nonce="short")
    elif spoil == "path":
        headers = hospital.headers(raw, path="/api/v1/reports")
    elif spoil == "body":
        raw = raw.replace(b'"R1"', b'"R2"')
    answer = hospital.client.post(PATH, data=raw, headers=headers)
    assert answer.status_code == 401
    assert answer.json["error"]["code"] == "unauthorized"
    assert reports_count() == 0
    assert db.session.scalar(select(func.count()).select_from(InstitutionNonce)) == 0


def test_a_replayed_nonce_is_refused(app, hospital):
    raw = json.dumps({**report_body(), "source_record_id": "R1"}).encode()
    headers = hospital.headers(raw)
    assert hospital.client.post(PATH, data=raw, headers=headers).status_code == 201
    replay = hospital.client.post(PATH, data=raw, headers=headers)
    assert replay.status_code == 401
    assert reports_count() == 1


def test_a_valid_signature_with_a_bad_body_gets_the_fields_errors_and_nothing_is_kept(app, hospital):
    answer = hospital.send("R1", report_body(categories=["not_a_category"], victim={"age": "十二"}))
    assert answer.status_code == 422
    fields = answer.json["error"]["fields"]
    assert set(fields) == {"categories.0", "victim.age"}
    assert reports_count() == 0
    assert db.session.scalar(select(func.count()).select_from(InstitutionNonce)) == 0
    assert hospital.send("", report_body()).status_code == 422  # the record id is required
    other = create_unit("another-unit")
    db.session.commit()
    wrong_unit = hospital.send("R2", report_body(unit_id=other.id))
    assert wrong_unit.status_code == 422
    assert "unit_id" in wrong_unit.json["error"]["fields"]


def test_keys_rotate_with_both_valid_until_one_is_revoked(app, hospital, runner):
    rotated = runner.invoke(args=["institutions", "rotate", "fy-his"])
    assert rotated.exit_code == 0, rotated.output
    new = FakeHospital(hospital.client, re.search(r"^key id: (\S+)$", rotated.output, re.M).group(1),
                       re.search(r"^secret: (\S+)$", rotated.output, re.M).group(1))
    assert hospital.send("A").status_code == 201
    assert new.send("B").status_code == 201
    revoked = runner.invoke(args=["institutions", "revoke", hospital.key_id])
    assert revoked.exit_code == 0, revoked.output
    assert hospital.send("C").status_code == 401
    assert new.send("D").status_code == 201


def test_the_secret_is_sealed_at_rest_and_the_cli_refuses_bad_input(app, hospital, runner):
    stored = db.session.get(InstitutionKey, hospital.key_id)
    assert hospital.secret.encode() not in stored.secret_data
    assert runner.invoke(args=["institutions", "add", "fy-his", "重复"]).exit_code != 0
    assert runner.invoke(args=["institutions", "add", "bad code!", "某医院"]).exit_code != 0
    assert runner.invoke(args=["institutions", "add", "x-his", "某医院", "--unit", "no-such-unit"]).exit_code != 0
    assert runner.invoke(args=["institutions", "revoke", "ik-unknown"]).exit_code != 0


def test_a_hotline_without_a_unit_reports_as_the_public_does(app, client, runner):
    hotline = FakeHospital(client, *registered(runner, "12345", "12345热线"))
    answer = hotline.send("WO-88", report_body(district_code=None))
    assert answer.status_code == 201, answer.json
    report = db.session.get(Report, uuid.UUID(answer.json["id"]))
    assert (report.channel, report.unit_id) == ("institution", None)


def test_sm3_signatures_when_the_deployment_uses_sm3(make_app, backend_name):
    app = make_app(blind_index="hmac-sm3")
    runner = app.test_cli_runner()
    hotline = FakeHospital(app.test_client(), *registered(runner, "12345", "12345热线"), algorithm="hmac-sm3")
    assert hotline.send("WO-1").status_code == 201
    sha = FakeHospital(hotline.client, hotline.key_id, hotline.secret)
    assert sha.send("WO-2").status_code == 401
    assert dt.datetime.now(dt.UTC)  # the deployment's clock decides the window, not the caller's


def test_the_reference_client_in_the_docs_sends_a_report_over_http(app, hospital):
    """docs/institutional_client.py, as an IT department would run it, against the app served over real HTTP."""
    import importlib.util
    import threading
    from pathlib import Path

    from werkzeug.serving import make_server

    path = Path(__file__).resolve().parents[2] / "docs" / "institutional_client.py"
    spec = importlib.util.spec_from_file_location("institutional_client", path)
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    db.session.commit()  # SQLite: the server's threads write; this test's transaction must not hold the lock
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        status, answer = client.send(base, hospital.key_id, hospital.secret, report_body(), "HIS-REF-1")
        assert status == 201, answer
        assert client.send(base, hospital.key_id, hospital.secret, report_body(), "HIS-REF-1")[1]["id"] == answer["id"]
        status, refused = client.send(base, hospital.key_id, "not-the-secret", report_body(), "HIS-REF-2")
        assert (status, refused["error"]["code"]) == (401, "unauthorized")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert reports_count() == 1
