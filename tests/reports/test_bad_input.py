"""Bad input, proven: every hostile or malformed request gets the error envelope and stores nothing.

One table, one test. Each row is a request built against a small world (an own report, another
reporter's report, an inactive unit, dead tokens) made before the row counts of every table are taken.
The test then checks the status and code, the envelope's shape, that the message is zh-CN, that
``fields`` names dotted paths (422 only), that ``X-Request-ID`` is the envelope's ``request_id``, and
that no table and no attachment directory changed.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.core.idcard import check_digit
from app.extensions import db
from app.reporters import service as reporters
from app.reporters.models import Reporter
from app.reports.constants import CATEGORIES
from app.units.models import Unit
from tests.conftest import ReporterLogin
from tests.factories import CST, report_body, valid_id_number

REPORTS = "/api/v1/reports"
CJK = re.compile(r"[\u4e00-\u9fff]")
DOTTED_PATH = re.compile(r"^[a-z_]+(\.[a-z0-9_]+)*$")
MIB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclasses.dataclass
class World:
    """What the rows refer to, made before the tables are counted."""

    reporter: ReporterLogin
    own_report: str
    others_report: str
    unit_id: int
    inactive_unit_id: int
    inactive_unit_code: str
    expired_token: str
    revoked_token: str


Lazy = Callable[[World], Any]


@dataclasses.dataclass(frozen=True)
class Bad:
    method: str
    path: str
    status: int
    code: str
    fields: frozenset[str] = frozenset()
    # Request keyword arguments for the test client; a callable is called with the world.
    request: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Authorization header: the reporter's by default.
    auth: Lazy | None = None


def bad(case_id: str, status: int, code: str, *, fields: tuple[str, ...] = (), method: str = "POST",
        path: str = REPORTS, auth: Lazy | None = None, **request: Any) -> Any:
    return pytest.param(Bad(method, path, status, code, frozenset(fields), request, auth), id=case_id)


def invalid(case_id: str, *fields: str, **sections: Any) -> Any:
    """A report body with ``sections`` merged in (values may be lambdas of the world), refused on ``fields``."""
    def body(world: World) -> dict[str, Any]:
        return report_body(**{k: v(world) if callable(v) else v for k, v in sections.items()})
    return bad(case_id, 422, "validation_error", fields=fields, json=body)


def raw(text: str | bytes) -> dict[str, Any]:
    return {"data": text.encode() if isinstance(text, str) else text, "content_type": "application/json"}


def bearer(token: str) -> Lazy:
    return lambda world: {"Authorization": f"Bearer {token}"}


NO_AUTH: Lazy = lambda world: {}  # noqa: E731


def discovered(**delta: float) -> dt.datetime:
    """Noon (China time) yesterday, moved by ``delta``: a discovery time safely in the past."""
    noon = dt.datetime.now(CST).replace(hour=12, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    return noon + dt.timedelta(**delta)


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def id_body(born: dt.date, **victim: Any) -> dict[str, Any]:
    at = discovered()
    return {"victim": {"age": None, "id_number": valid_id_number(born), **victim},
            "incident": {"discovered_at": at.isoformat()}, "police": None}


def with_raw_id(first17: str) -> dict[str, Any]:
    return {"victim": {"age": None, "id_number": first17 + check_digit(first17)}}


def padded_body(total_bytes: int) -> bytes:
    """A JSON report of exactly ``total_bytes`` bytes, padded inside a (too long) description."""
    body = report_body(incident={"description": ""})
    base = len(json.dumps(body).encode())
    body["incident"]["description"] = "x" * (total_bytes - base)
    data = json.dumps(body).encode()
    assert len(data) == total_bytes
    return data


def encoded(encoding: str, prefix: bytes = b"") -> dict[str, Any]:
    """A valid report, encoded other than as plain UTF-8."""
    return {"data": lambda w: prefix + json.dumps(report_body(), ensure_ascii=False).encode(encoding),
            "content_type": "application/json"}


def duplicated(key: str, value: Any, section: str | None = None) -> dict[str, Any]:
    """A valid report whose top level (or ``section``) names ``key`` a second time, last."""
    def body(world: World) -> bytes:
        sent = report_body()
        extra = f", {json.dumps(key)}: {json.dumps(value)}}}"
        if section is None:
            return (json.dumps(sent)[:-1] + extra).encode()
        inner = json.dumps(sent.pop(section))
        return (json.dumps(sent)[:-1] + f', {json.dumps(section)}: {inner[:-1] + extra}}}').encode()
    return {"data": body, "content_type": "application/json"}


def multipart_file(content: bytes = PNG, name: str = "photo.png") -> Lazy:
    return lambda world: {"file": (io.BytesIO(content), name)}


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


CASES = [
    # ---- not JSON, or not the JSON we take -------------------------------------------------
    bad("malformed-json", 400, "bad_request", **raw('{"client_id": "5f0c7a7e",')),
    bad("empty-body", 400, "bad_request", **raw(b"")),
    bad("whitespace-body", 400, "bad_request", **raw(b" \r\n\t ")),
    bad("top-level-array", 400, "bad_request", json=lambda w: [report_body()]),
    bad("top-level-number", 400, "bad_request", **raw("42")),
    bad("top-level-string", 400, "bad_request", **raw('"我要举报"')),
    bad("top-level-null", 400, "bad_request", **raw("null")),
    bad("invalid-utf8", 400, "bad_request", **raw(b'{"client_id": "\xff\xfe"}')),
    bad("utf-16-with-bom", 400, "bad_request", **encoded("utf-16")),
    bad("utf-16-le-without-bom", 400, "bad_request", **encoded("utf-16-le")),
    bad("utf-16-be-without-bom", 400, "bad_request", **encoded("utf-16-be")),
    bad("utf-32-with-bom", 400, "bad_request", **encoded("utf-32")),
    bad("utf-32-le-without-bom", 400, "bad_request", **encoded("utf-32-le")),
    bad("utf-8-with-bom", 400, "bad_request", **encoded("utf-8", prefix=b"\xef\xbb\xbf")),
    bad("duplicate-top-level-key", 400, "bad_request", **duplicated("urgent", True)),
    bad("duplicate-client-id", 400, "bad_request", **duplicated("client_id", str(uuid.uuid4()))),
    bad("duplicate-nested-key", 400, "bad_request", **duplicated("gender", "male", section="victim")),
    bad("duplicate-key-same-value", 400, "bad_request", **duplicated("categories", ["abuse_injury"])),
    bad("nan-constant", 400, "bad_request", **raw('{"victim": {"age": NaN}}')),
    bad("infinity-constant", 400, "bad_request", **raw('{"victim": {"age": -Infinity}}')),
    bad("deep-array-100000", 400, "bad_request", **raw("[" * 100_000)),
    bad("deep-balanced-array-100000", 400, "bad_request", **raw("[" * 100_000 + "]" * 100_000)),
    bad("deep-object-100000", 400, "bad_request", **raw('{"a":' * 100_000 + "1" + "}" * 100_000)),
    bad("text-plain", 415, "unsupported_media_type",
        data=lambda w: json.dumps(report_body()), content_type="text/plain"),
    bad("form-encoded", 415, "unsupported_media_type", data={"client_id": str(uuid.uuid4()), "urgent": "1"}),
    bad("multipart-to-json-endpoint", 415, "unsupported_media_type",
        data={"client_id": str(uuid.uuid4())}, content_type="multipart/form-data"),
    bad("no-content-type", 415, "unsupported_media_type", data=lambda w: json.dumps(report_body()).encode()),
    bad("json-lookalike-content-type", 415, "unsupported_media_type",
        data=lambda w: json.dumps(report_body()), content_type="application/json-patch+json"),
    # ---- too big --------------------------------------------------------------------------
    bad("ten-mb-string", 413, "payload_too_large",
        json=lambda w: report_body(incident={"description": "长" * (10 * MIB // 3)})),
    bad("ten-mb-ascii-string", 413, "payload_too_large", json=lambda w: report_body(reporter={"name": "a" * 10 * MIB})),
    bad("body-exactly-1mib-is-read", 422, "validation_error", fields=("incident.description",),
        **raw(padded_body(MIB))),
    bad("body-1mib-plus-1-byte", 413, "payload_too_large", **raw(padded_body(MIB + 1))),
    # ---- wrong types ----------------------------------------------------------------------
    invalid("string-for-bool", "urgent", urgent="true"),
    invalid("string-for-training", "training", training="true"),
    invalid("int-for-bool", "victim.has_disability", victim={"has_disability": 1}),
    invalid("string-for-nested-bool", "police.notified", police={"notified": "是"}),
    invalid("float-for-int", "victim.age", victim={"age": 12.0}),
    invalid("fraction-for-int", "victim.age", victim={"age": 12.5}),
    invalid("bool-for-int", "victim.age", victim={"age": True}),
    invalid("string-for-int", "victim.age", victim={"age": "12"}),
    invalid("string-for-unit-id", "unit_id", unit_id="1"),
    invalid("object-for-string", "reporter.name", reporter={"name": {"zh": "王医生"}}),
    invalid("list-for-string", "incident.description", incident={"description": ["接诊时发现", "多处淤伤"]}),
    invalid("number-for-string", "victim.address", victim={"address": 12345}),
    invalid("list-for-object", "victim", victim=lambda w: [report_body()["victim"]]),
    invalid("string-for-object", "reporter", reporter="王医生 13800000000"),
    invalid("string-for-list", "categories", categories="abuse_injury"),
    invalid("object-in-list", "categories.0", categories=[{"code": "abuse_injury"}]),
    invalid("number-for-datetime", "incident.discovered_at", incident={"discovered_at": 1_764_000_000}),
    invalid("int-for-uuid", "client_id", client_id=12345),
    invalid("malformed-uuid", "client_id", client_id="5f0c7a7e-2b1e-4c56-9b39"),
    invalid("null-client-id", "client_id", client_id=None),
    invalid("null-required-section", "incident", incident=None),
    invalid("unknown-gender", "victim.gender", victim={"gender": "girl"}),
    bad("empty-object", 422, "validation_error", json={},
        fields=("client_id", "categories", "reporter", "victim", "incident")),
    # ---- unknown fields -------------------------------------------------------------------
    invalid("unknown-top-level-field", "priority", priority="high"),
    invalid("unknown-nested-field", "victim.nickname", victim={"nickname": "花花"}),
    invalid("unknown-field-in-optional-section", "police.officer", police={"officer": "李警官"}),
    invalid("internal-field-smuggled", "status", status="closed"),
    # ---- out of range ---------------------------------------------------------------------
    invalid("age-18", "victim.age", victim={"age": 18}),
    invalid("age-minus-1", "victim.age", victim={"age": -1}),
    invalid("age-10-pow-20", "victim.age", victim={"age": 10**20}),
    invalid("unit-id-10-pow-20", "unit_id", unit_id=10**20),
    invalid("unit-id-minus-10-pow-20", "unit_id", unit_id=-(10**20)),
    invalid("unit-id-2-pow-31", "unit_id", unit_id=2**31),
    invalid("unit-id-nonexistent", "unit_id", unit_id=987_654),
    invalid("unit-id-inactive", "unit_id", unit_id=lambda w: w.inactive_unit_id),
    # ---- categories -----------------------------------------------------------------------
    invalid("categories-empty", "categories", categories=[]),
    invalid("categories-duplicated", "categories", categories=["abuse_injury", "abandonment", "abuse_injury"]),
    invalid("categories-unknown-code", "categories.1", categories=["abuse_injury", "domestic_violence"]),
    invalid("categories-ten-items", "categories", categories=[*CATEGORIES, "abuse_injury"]),
    # ---- identity numbers -----------------------------------------------------------------
    invalid("id-wrong-check-digit", "victim.id_number",
            victim={"id_number": "33010220150301123" + ("0" if check_digit("33010220150301123") != "0" else "1")}),
    invalid("id-impossible-birth-date", "victim.id_number", **with_raw_id("33010220150230123")),
    invalid("id-17-characters", "victim.id_number", victim={"id_number": "33010220150301123"}),
    invalid("id-other-script-digits", "victim.id_number",
            victim={"id_number": "3" + valid_id_number(dt.date(2015, 3, 1))[1:].replace("3", "\u0663")}),
    invalid("id-of-an-adult-at-discovery", "victim.id_number",
            **id_body(years_before(discovered().date(), 18))),
    invalid("id-born-after-discovery", "victim.id_number",
            **id_body(discovered().date() + dt.timedelta(days=1))),
    invalid("age-disagrees-with-id", "victim.age",
            **id_body(years_before(discovered().date(), 9), age=12)),
    # ---- times ----------------------------------------------------------------------------
    invalid("discovered-tomorrow", "incident.discovered_at",
            incident=lambda w: {**report_body()["incident"], "discovered_at": discovered(days=2).isoformat()}),
    invalid("discovered-beyond-clock-skew", "incident.discovered_at",
            incident=lambda w: {**report_body()["incident"],
                                "discovered_at": (dt.datetime.now(CST) + dt.timedelta(minutes=6)).isoformat()}),
    invalid("occurred-after-discovered", "incident.occurred_at",
            incident={"discovered_at": discovered().isoformat(), "occurred_at": discovered(minutes=1).isoformat()}),
    invalid("naive-datetime", "incident.discovered_at", incident={"discovered_at": "2026-01-05T10:30:00"}),
    invalid("date-without-time", "incident.discovered_at", incident={"discovered_at": "2026-01-05"}),
    invalid("impossible-date", "incident.discovered_at", incident={"discovered_at": "2026-02-30T10:30:00+08:00"}),
    invalid("offset-beyond-24h", "incident.discovered_at", incident={"discovered_at": "2026-01-05T10:30:00+25:00"}),
    invalid("no-utc-instant-year-1", "incident.discovered_at",
            victim={"age": None, "id_number": valid_id_number(dt.date(2015, 3, 1))},
            incident={"discovered_at": "0001-01-01T00:00:00+14:00"}),
    invalid("police-notified-in-the-future", "police.notified_at",
            police=lambda w: {"notified": True, "station": None, "notified_at": discovered(days=3).isoformat()}),
    # ---- free text ------------------------------------------------------------------------
    invalid("description-short-after-control-chars", "incident.description",
            incident={"description": "\x00\x01\x02接诊\x07发现\x1b\x7f淤伤\u200b\u202e\ufeff\x00\x00\x00\x00"}),
    invalid("description-only-invisible", "incident.description",
            incident={"description": "\u200b\u200e\u2066\ufeff \t\r\n\x00" * 20}),
    invalid("description-5001-chars", "incident.description", incident={"description": "描" * 5001}),
    invalid("name-51-chars", "reporter.name", reporter={"name": "王" * 51}),
    invalid("name-50-chars-and-an-invisible-one", "reporter.name", reporter={"name": "王" * 50 + "\u200b"}),
    invalid("description-5001-chars-with-control-chars", "incident.description",
            incident={"description": "描" * 4990 + "\x00" * 11}),
    invalid("name-lone-surrogate", "reporter.name", reporter={"name": "\ud800"}),
    invalid("name-only-control-chars", "reporter.name", reporter={"name": "\x00\x08\x1f\x7f\u0085"}),
    # ---- phones ---------------------------------------------------------------------------
    invalid("phone-too-short", "reporter.phone", reporter={"phone": "1380000"}),
    invalid("phone-not-1-3-to-9", "reporter.phone", reporter={"phone": "12800000000"}),
    invalid("phone-12-digits", "reporter.phone", reporter={"phone": "138000000000"}),
    invalid("phone-letters", "reporter.phone", reporter={"phone": "138abcd0000"}),
    invalid("phone-other-script-digits", "reporter.phone", reporter={"phone": "138" + "\u0966" * 8}),  # Devanagari 0
    invalid("phone-landline-without-area-code", "reporter.phone", reporter={"phone": "88888888"}),
    invalid("guardian-phone-invalid", "victim.guardian_phone", victim={"guardian_phone": "110"}),
    # ---- SQL and markup where only codes are taken ----------------------------------------
    invalid("sql-in-client-id", "client_id", client_id="' OR '1'='1"),
    invalid("sql-in-category", "categories.0", categories=["abuse_injury'); DROP TABLE reports;--"]),
    invalid("sql-in-unit-id", "unit_id", unit_id="1 OR 1=1"),
    invalid("sql-in-phone", "reporter.phone", reporter={"phone": "13800000000; DROP TABLE reports"}),
    invalid("script-in-gender", "victim.gender", victim={"gender": "<script>alert(1)</script>"}),
    # ---- who is asking --------------------------------------------------------------------
    bad("missing-token", 401, "unauthorized", json=lambda w: report_body(), auth=NO_AUTH),
    bad("forged-token", 401, "unauthorized", json=lambda w: report_body(), auth=bearer("qzr_" + "A" * 43)),
    bad("expired-token", 401, "unauthorized", json=lambda w: report_body(),
        auth=lambda w: {"Authorization": f"Bearer {w.expired_token}"}),
    bad("revoked-token", 401, "unauthorized", method="GET",
        auth=lambda w: {"Authorization": f"Bearer {w.revoked_token}"}),
    bad("wrong-scheme-basic", 401, "unauthorized", method="GET",
        auth=lambda w: {"Authorization": "Basic " + base64.b64encode(w.reporter.token.encode()).decode()}),
    bad("token-without-scheme", 401, "unauthorized", method="GET",
        auth=lambda w: {"Authorization": w.reporter.token}),
    bad("bearer-without-token", 401, "unauthorized", method="GET", auth=lambda w: {"Authorization": "Bearer "}),
    bad("token-with-nul", 401, "unauthorized", method="GET", auth=bearer("qzr_\x00' OR 1=1--")),
    bad("token-5000-chars", 401, "unauthorized", method="GET", auth=bearer("qzr_" + "a" * 5000)),
    bad("token-of-own-with-suffix", 401, "unauthorized", method="GET",
        auth=lambda w: {"Authorization": f"Bearer {w.reporter.token}x"}),
    bad("detail-without-token", 401, "unauthorized", method="GET", path=REPORTS + "/{own_report}", auth=NO_AUTH),
    bad("upload-without-token", 401, "unauthorized", path=REPORTS + "/{own_report}/attachments", auth=NO_AUTH,
        data=multipart_file(), content_type="multipart/form-data"),
    # ---- what does not exist, or is not yours ---------------------------------------------
    bad("another-reporters-report", 404, "not_found", method="GET", path=REPORTS + "/{others_report}"),
    bad("unknown-report-id", 404, "not_found", method="GET", path=REPORTS + "/" + str(uuid.uuid4())),
    bad("malformed-report-uuid", 404, "not_found", method="GET", path=REPORTS + "/not-a-uuid"),
    bad("sql-in-report-id", 404, "not_found", method="GET", path=REPORTS + "/1%27%20OR%20%271%27=%271"),
    bad("upload-to-another-reporters-report", 404, "not_found", path=REPORTS + "/{others_report}/attachments",
        data=multipart_file(), content_type="multipart/form-data"),
    bad("upload-to-malformed-uuid", 404, "not_found", path=REPORTS + "/..%2F..%2Fetc%2Fpasswd/attachments",
        data=multipart_file(), content_type="multipart/form-data"),
    bad("unknown-api-path", 404, "not_found", method="GET", path="/api/v1/nope"),
    bad("unknown-api-version", 404, "not_found", method="GET", path="/api/v2/reports"),
    bad("api-root", 404, "not_found", method="GET", path="/api/"),
    bad("unknown-scene", 404, "not_found", method="GET", path="/api/v1/units/scene/no-such-unit"),
    bad("inactive-unit-scene", 404, "not_found", method="GET", path="/api/v1/units/scene/{inactive_unit_code}"),
    bad("sql-in-scene", 404, "not_found", method="GET", path="/api/v1/units/scene/%27%20OR%20%271%27%3D%271"),
    bad("nul-in-scene", 404, "not_found", method="GET", path="/api/v1/units/scene/hosp%00-001"),
    bad("500-char-scene", 404, "not_found", method="GET", path="/api/v1/units/scene/" + "s" * 500),
    # ---- wrong methods --------------------------------------------------------------------
    bad("delete-reports", 405, "method_not_allowed", method="DELETE"),
    bad("put-report", 405, "method_not_allowed", method="PUT", path=REPORTS + "/{own_report}",
        json=lambda w: report_body()),
    bad("post-categories", 405, "method_not_allowed", path="/api/v1/categories", json={}),
    bad("patch-units", 405, "method_not_allowed", method="PATCH", path="/api/v1/units", json={}),
    bad("get-attachments", 405, "method_not_allowed", method="GET", path=REPORTS + "/{own_report}/attachments"),
    # ---- query arguments ------------------------------------------------------------------
    bad("units-unknown-type", 422, "validation_error", fields=("type",), method="GET",
        path="/api/v1/units?type=hospital%27%20OR%201=1--"),
    bad("units-q-51-chars", 422, "validation_error", fields=("q",), method="GET", path="/api/v1/units?q=" + "市" * 51),
    bad("reports-limit-0", 422, "validation_error", fields=("limit",), method="GET", path=REPORTS + "?limit=0"),
    bad("reports-limit-51", 422, "validation_error", fields=("limit",), method="GET", path=REPORTS + "?limit=51"),
    bad("reports-limit-negative", 422, "validation_error", fields=("limit",), method="GET", path=REPORTS + "?limit=-5"),
    bad("reports-limit-10-pow-30", 422, "validation_error", fields=("limit",), method="GET",
        path=REPORTS + "?limit=" + "1" + "0" * 30),
    bad("reports-limit-text", 422, "validation_error", fields=("limit",), method="GET", path=REPORTS + "?limit=ten"),
    bad("reports-cursor-garbage", 422, "validation_error", fields=("cursor",), method="GET",
        path=REPORTS + "?cursor=!!!%27%20OR%201=1--"),
    bad("reports-cursor-naive-time", 422, "validation_error", fields=("cursor",), method="GET",
        path=REPORTS + "?cursor=" + cursor(f"2026-01-01T00:00:00|{uuid.uuid4()}")),
    bad("reports-cursor-not-a-uuid", 422, "validation_error", fields=("cursor",), method="GET",
        path=REPORTS + "?cursor=" + cursor("2026-01-01T00:00:00+00:00|1 OR 1=1")),
    # ---- attachments ----------------------------------------------------------------------
    bad("upload-as-json", 415, "unsupported_media_type", path=REPORTS + "/{own_report}/attachments",
        json={"file": base64.b64encode(PNG).decode()}),
    bad("upload-without-file-field", 422, "validation_error", fields=("file", "other"),
        path=REPORTS + "/{own_report}/attachments", data={"other": "x"}, content_type="multipart/form-data"),
    bad("upload-file-as-text-field", 422, "validation_error", fields=("file",),
        path=REPORTS + "/{own_report}/attachments", data={"file": "not a file"}, content_type="multipart/form-data"),
    bad("upload-empty-file", 422, "validation_error", fields=("file",), path=REPORTS + "/{own_report}/attachments",
        data=multipart_file(b""), content_type="multipart/form-data"),
    bad("upload-html-named-jpg", 422, "validation_error", fields=("file",),
        path=REPORTS + "/{own_report}/attachments", content_type="multipart/form-data",
        data=multipart_file(b"<html><script>alert(1)</script></html>" * 4, "photo.jpg")),
    bad("upload-unknown-text-field", 422, "validation_error", fields=("note",),
        path=REPORTS + "/{own_report}/attachments", content_type="multipart/form-data",
        data=lambda w: {"file": (io.BytesIO(PNG), "photo.png"), "note": "孩子的照片"}),
    bad("upload-unknown-file-field", 422, "validation_error", fields=("thumbnail",),
        path=REPORTS + "/{own_report}/attachments", content_type="multipart/form-data",
        data=lambda w: {"file": (io.BytesIO(PNG), "photo.png"), "thumbnail": (io.BytesIO(PNG), "small.png")}),
    bad("upload-report-id-smuggled", 422, "validation_error", fields=("report_id",),
        path=REPORTS + "/{own_report}/attachments", content_type="multipart/form-data",
        data=lambda w: {"file": (io.BytesIO(PNG), "photo.png"), "report_id": w.others_report}),
    bad("upload-broken-multipart", 422, "validation_error", fields=("file",),
        path=REPORTS + "/{own_report}/attachments", data=b"--x\r\ngarbage",
        content_type="multipart/form-data; boundary=x"),
    # ---- login, phone and subscriptions: the same strict JSON ------------------------------
    bad("login-top-level-array", 400, "bad_request", path="/api/v1/auth/wechat", auth=NO_AUTH,
        json=["dev-someone"]),
    bad("login-code-object", 422, "validation_error", fields=("code",), path="/api/v1/auth/wechat", auth=NO_AUTH,
        json={"code": {"$ne": None}}),
    bad("login-code-129-chars", 422, "validation_error", fields=("code",), path="/api/v1/auth/wechat",
        auth=NO_AUTH, json={"code": "c" * 129}),
    bad("login-code-with-nul", 422, "validation_error", fields=("code",), path="/api/v1/auth/wechat",
        auth=NO_AUTH, json={"code": "dev-some\x00one"}),
    bad("login-code-with-newline", 422, "validation_error", fields=("code",), path="/api/v1/auth/wechat",
        auth=NO_AUTH, json={"code": "dev-someone\n"}),
    bad("login-code-with-escape", 422, "validation_error", fields=("code",), path="/api/v1/auth/wechat",
        auth=NO_AUTH, json={"code": "\x1b[2Jdev-someone"}),
    bad("login-code-with-zero-width-space", 422, "validation_error", fields=("code",), path="/api/v1/auth/wechat",
        auth=NO_AUTH, json={"code": "dev-\u200bsomeone"}),
    bad("login-code-with-space", 422, "validation_error", fields=("code",), path="/api/v1/auth/wechat",
        auth=NO_AUTH, json={"code": " dev-someone"}),
    bad("login-code-empty", 422, "validation_error", fields=("code",), path="/api/v1/auth/wechat",
        auth=NO_AUTH, json={"code": ""}),
    bad("login-code-only-control-chars", 422, "validation_error", fields=("code",), path="/api/v1/auth/wechat",
        auth=NO_AUTH, json={"code": "\x00\x01\x7f"}),
    bad("login-duplicate-code", 400, "bad_request", path="/api/v1/auth/wechat", auth=NO_AUTH,
        **raw('{"code": "dev-someone", "code": "dev-victim"}')),
    bad("phone-code-with-control-char", 422, "validation_error", fields=("code",), path="/api/v1/auth/phone",
        json={"code": "phone-13800138000\x07"}),
    bad("phone-code-with-tab", 422, "validation_error", fields=("code",), path="/api/v1/auth/phone",
        json={"code": "phone-\t13800138000"}),
    bad("login-openid-smuggled", 422, "validation_error", fields=("openid",), path="/api/v1/auth/wechat",
        auth=NO_AUTH, json={"code": "dev-someone", "openid": "o-dev-victim"}),
    bad("login-as-form", 415, "unsupported_media_type", path="/api/v1/auth/wechat", auth=NO_AUTH,
        data={"code": "dev-someone"}),
    bad("phone-without-token", 401, "unauthorized", path="/api/v1/auth/phone", auth=NO_AUTH,
        json={"code": "phone-13800138000"}),
    bad("subscriptions-empty-list", 422, "validation_error", fields=("template_ids",), path="/api/v1/subscriptions",
        json={"template_ids": []}),
    bad("subscriptions-string-for-list", 422, "validation_error", fields=("template_ids",),
        path="/api/v1/subscriptions", json={"template_ids": "TPL_STATUS_CHANGE"}),
    # ---- a hostile request id is replaced, not echoed -------------------------------------
    bad("hostile-request-id", 400, "bad_request", headers={"X-Request-ID": "<script>alert(1)</script>"}, **raw("{")),
    bad("overlong-request-id", 400, "bad_request", headers={"X-Request-ID": "r" * 65}, **raw("{")),
]


@pytest.fixture
def world(app: Flask, client: FlaskClient, reporter: ReporterLogin, other_reporter: ReporterLogin,
          unit: Unit) -> World:
    """An own report, another reporter's report, an inactive unit and two dead tokens of ``reporter``."""
    def submit(login: ReporterLogin) -> str:
        response = client.post(REPORTS, json=report_body(unit_id=unit.id), headers=login.headers)
        assert response.status_code == 201, response.json
        return str(response.json["id"])

    inactive = Unit(code="closed-001", name="已撤并的卫生院", type="hospital", active=False)
    db.session.add(inactive)
    account = db.session.get(Reporter, reporter.id)
    now = dt.datetime.now(dt.UTC)
    expired, _ = reporters.issue_token(account, now=now - dt.timedelta(hours=2), ttl=dt.timedelta(hours=1))
    revoked, _ = reporters.issue_token(account, now=now, ttl=dt.timedelta(hours=1))
    reporters.revoke(revoked, now=now)
    db.session.commit()
    return World(
        reporter=reporter, own_report=submit(reporter), others_report=submit(other_reporter), unit_id=unit.id,
        inactive_unit_id=inactive.id, inactive_unit_code=inactive.code, expired_token=expired, revoked_token=revoked,
    )


def stored_state(app: Flask) -> dict[str, int]:
    """Committed rows per table, and files in the attachments directory."""
    db.session.rollback()  # what a request left uncommitted, its app context's teardown would discard
    counts = {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}
    directory: Path = app.config["QZBG"].attachments_dir
    counts["attachment files"] = len(list(directory.rglob("*"))) if directory.exists() else 0
    db.session.rollback()
    return counts


def assert_error_envelope(response: Any, status: int, code: str, fields: frozenset[str]) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert {"code", "message", "request_id"} <= set(error) <= {"code", "message", "request_id", "fields"}
    assert error["code"] == code
    assert CJK.search(error["message"]), error["message"]
    assert error["request_id"]
    assert response.headers["X-Request-ID"] == error["request_id"]
    if status == 422:
        assert set(error["fields"]) == fields
        for path, messages in error["fields"].items():
            assert DOTTED_PATH.match(path), path
            assert messages
            assert all(isinstance(m, str) and CJK.search(m) for m in messages), messages
    else:
        assert "fields" not in error
    if status == 405:
        assert response.headers["Allow"]
    return error


@pytest.mark.parametrize("case", CASES)
def test_hostile_request_is_refused_with_the_envelope_and_stores_nothing(app, client, world, case: Bad):
    def resolve(value: Any) -> Any:
        return value(world) if callable(value) else value

    request = {key: resolve(value) for key, value in case.request.items()}
    headers = {**resolve(case.auth or (lambda w: w.reporter.headers)), **request.pop("headers", {})}
    if "json" in request:
        # Serialised as a client would (ASCII escapes), not with the app's own JSON settings.
        body = json.dumps(request.pop("json"))
        request = {**request, "data": body, "content_type": "application/json"}
    before = stored_state(app)

    response = client.open(case.path.format(**vars(world)), method=case.method, headers=headers, **request)

    error = assert_error_envelope(response, case.status, case.code, case.fields)
    assert stored_state(app) == before
    if "X-Request-ID" in headers:
        assert error["request_id"] != headers["X-Request-ID"]


def test_the_table_covers_enough_cases():
    assert len(CASES) >= 45


def test_a_well_formed_request_id_from_the_client_is_not_taken_as_ours(client, reporter):
    response = client.post(REPORTS, data=b"{", content_type="application/json",
                           headers={**reporter.headers, "X-Request-ID": "mp-7f3a9c21"})
    assert_error_envelope(response, 400, "bad_request", frozenset())
    assert response.json["error"]["request_id"] != "mp-7f3a9c21"  # logged beside ours (tests/test_logging.py)


def test_each_error_gets_its_own_request_id(client, reporter):
    ids = {client.post(REPORTS, json={}, headers=reporter.headers).json["error"]["request_id"] for _ in range(3)}
    assert len(ids) == 3


def test_sql_in_the_unit_search_is_only_text(client, unit):
    hostile = ["' OR '1'='1", "%", "_", "\\", "市%' --", "x'; DROP TABLE units;--", "\x00' OR 1=1--"]
    for q in hostile:
        response = client.get("/api/v1/units", query_string={"q": q})
        assert response.status_code == 200, (q, response.json)
        assert response.json == {"items": []}, q
    # Nothing left after control characters are stripped: no filter, not an error.
    assert client.get("/api/v1/units", query_string={"q": "\x00\x1b"}).json["items"][0]["id"] == unit.id
    found = client.get("/api/v1/units", query_string={"q": "妇幼"})
    assert [item["code"] for item in found.json["items"]] == [unit.code]
    assert client.get("/api/v1/units", query_string={"q": unit.code}).json["items"][0]["id"] == unit.id
