"""The reports JSON API as the mini-program uses it."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select

from app.extensions import db
from app.reports.constants import CATEGORIES
from app.reports.models import Report, ReportEvent
from tests.factories import create_unit, report_body, valid_id_number


def count_reports() -> int:
    return db.session.scalar(select(func.count()).select_from(Report)) or 0


def test_categories_are_the_nine_codes_in_domain_order(client):
    response = client.get("/api/v1/categories")
    assert response.status_code == 200
    assert [c["code"] for c in response.json["items"]] == list(CATEGORIES)
    assert response.json["items"][0]["label"].startswith("未成年人的生殖器官")


def test_submission_returns_tracking_number_and_submitted_status(client, reporter):
    response = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers)
    assert response.status_code == 201
    body = response.json
    assert set(body) == {"id", "tracking_no", "status", "submitted_at"}
    assert body["status"] == "submitted"
    year = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).year
    assert body["tracking_no"] == f"QZBG-{year}-000001"
    assert dt.datetime.fromisoformat(body["submitted_at"]).tzinfo is not None


def test_tracking_numbers_increase_within_a_year(client, reporter):
    numbers = [
        client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).json["tracking_no"]
        for _ in range(3)
    ]
    assert [n[-6:] for n in numbers] == ["000001", "000002", "000003"]


def test_same_client_id_from_same_reporter_returns_the_first_report(client, reporter):
    body = report_body()
    first = client.post("/api/v1/reports", json=body, headers=reporter.headers)
    again = client.post("/api/v1/reports", json=body, headers=reporter.headers)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json == first.json
    assert count_reports() == 1


def test_same_client_id_from_another_reporter_is_a_new_report(client, reporter, other_reporter):
    body = report_body()
    first = client.post("/api/v1/reports", json=body, headers=reporter.headers)
    other = client.post("/api/v1/reports", json=body, headers=other_reporter.headers)
    assert other.status_code == 201
    assert other.json["id"] != first.json["id"]


def test_reporter_reads_own_report_with_what_they_submitted_and_timeline(client, reporter):
    body = report_body(urgent=True, categories=["abuse_injury", "abandonment"])
    created = client.post("/api/v1/reports", json=body, headers=reporter.headers).json
    detail = client.get(f"/api/v1/reports/{created['id']}", headers=reporter.headers)
    assert detail.status_code == 200
    view = detail.json
    assert view["tracking_no"] == created["tracking_no"]
    assert view["status"] == "submitted"
    assert view["status_label"] == "已提交"
    assert view["categories"] == ["abuse_injury", "abandonment"]
    assert view["urgent"] is True
    assert view["reporter"] == body["reporter"]
    assert view["victim"] == body["victim"]
    assert view["incident"]["description"] == body["incident"]["description"]
    assert view["suspect"] == body["suspect"]
    assert view["police"]["station"] == "城北派出所"
    assert [(t["status"], t["label"]) for t in view["timeline"]] == [("submitted", "已提交")]
    assert view["attachments"] == []


def test_reporter_view_has_no_internal_fields(client, reporter):
    created = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).json
    view = client.get(f"/api/v1/reports/{created['id']}", headers=reporter.headers).json
    internal_fields = (
        "reporter_id", "channel", "victim_age_band", "acknowledge_due_at", "notes", "version", "client_key",
    )
    for internal in internal_fields:
        assert internal not in view
    assert "new" not in {t["status"] for t in view["timeline"]}


def test_reporter_cannot_read_another_reporters_report(client, reporter, other_reporter):
    created = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).json
    response = client.get(f"/api/v1/reports/{created['id']}", headers=other_reporter.headers)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    unknown = client.get(f"/api/v1/reports/{uuid.uuid4()}", headers=other_reporter.headers)
    assert unknown.json["error"]["message"] == response.json["error"]["message"]


def test_list_shows_only_own_reports_newest_first(client, reporter, other_reporter):
    mine = [client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).json for _ in range(2)]
    client.post("/api/v1/reports", json=report_body(), headers=other_reporter.headers)
    response = client.get("/api/v1/reports", headers=reporter.headers)
    assert response.status_code == 200
    items = response.json["items"]
    assert [i["id"] for i in items] == [mine[1]["id"], mine[0]["id"]]
    assert set(items[0]) == {"id", "tracking_no", "status", "status_label", "submitted_at", "updated_at"}
    assert response.json["next_cursor"] is None


def test_list_pages_through_every_report_once_with_the_cursor(client, reporter):
    ids = {client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).json["id"] for _ in range(5)}
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/reports", query_string=query, headers=reporter.headers).json
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(ids)


def test_report_from_a_unit_records_unit_type_and_district_in_clear(client, reporter, unit):
    body = report_body(unit_id=unit.id)
    created = client.post("/api/v1/reports", json=body, headers=reporter.headers).json
    report = db.session.get(Report, uuid.UUID(created["id"]))
    assert (report.unit_id, report.unit_type, report.district_code) == (unit.id, "maternal_child_health", "330102")
    assert report.channel == "miniprogram"


def test_inactive_unit_is_refused_and_nothing_is_stored(client, reporter, unit):
    unit.active = False
    db.session.commit()
    response = client.post("/api/v1/reports", json=report_body(unit_id=unit.id), headers=reporter.headers)
    assert response.status_code == 422
    assert list(response.json["error"]["fields"]) == ["unit_id"]
    assert count_reports() == 0


def test_clear_statistics_fields_are_derived_from_the_report(client, reporter):
    born = dt.date.today().replace(year=dt.date.today().year - 15) - dt.timedelta(days=3)
    body = report_body(victim={"age": None, "id_number": valid_id_number(born), "gender": "male"}, urgent=True)
    created = client.post("/api/v1/reports", json=body, headers=reporter.headers).json
    report = db.session.get(Report, uuid.UUID(created["id"]))
    assert report.victim_gender == "male"
    assert report.victim_age_band == "14-15"
    assert report.urgent is True
    assert report.acknowledge_due_at - report.submitted_at == dt.timedelta(hours=1)
    assert report.victim_id_bidx is not None


def test_non_urgent_report_is_due_for_acknowledgement_in_24_hours(client, reporter):
    created = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).json
    report = db.session.get(Report, uuid.UUID(created["id"]))
    assert report.acknowledge_due_at - report.submitted_at == dt.timedelta(hours=24)
    assert report.status == "new"
    events = db.session.scalars(select(ReportEvent).where(ReportEvent.report_id == report.id)).all()
    assert [(e.action, e.to_status) for e in events] == [("submit", "new")]


def test_public_report_without_unit_and_optional_sections_is_accepted(client, reporter):
    body = report_body(suspect=None, police=None)
    body["victim"] = {"gender": "unknown"}
    body["incident"] = {
        "discovered_at": body["incident"]["discovered_at"], "description": "在路边发现一名儿童长期无人照料。",
    }
    created = client.post("/api/v1/reports", json=body, headers=reporter.headers)
    assert created.status_code == 201, created.json
    view = client.get(f"/api/v1/reports/{created.json['id']}", headers=reporter.headers).json
    assert view["unit_id"] is None
    assert view["suspect"] is None
    assert view["police"] is None  # stored as submitted: "not stated"
    assert view["victim"]["age"] is None


def test_units_list_shows_active_units_with_public_fields_only(client, unit):
    create_unit("old-01", name="已撤销诊所", type="clinic", active=False)
    db.session.commit()
    response = client.get("/api/v1/units")
    expected = {"id": unit.id, "code": "hosp-001", "name": "市妇幼保健院", "type": "maternal_child_health"}
    assert response.json == {"items": [expected]}
    assert client.get("/api/v1/units", query_string={"q": "妇幼"}).json["items"][0]["id"] == unit.id
    assert client.get("/api/v1/units", query_string={"q": "%"}).json["items"] == []
    assert client.get("/api/v1/units", query_string={"type": "school"}).json["items"] == []


def test_scene_resolves_to_its_active_unit(client, unit):
    response = client.get("/api/v1/units/scene/hosp-001")
    assert response.status_code == 200
    assert response.json["name"] == "市妇幼保健院"
    assert client.get("/api/v1/units/scene/unknown").status_code == 404


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["database"] == "ok"


def test_errors_under_api_use_the_envelope_even_when_raised_by_flask(client):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert set(missing.json["error"]) == {"code", "message", "request_id"}
    wrong_method = client.delete("/api/v1/categories")
    assert wrong_method.status_code == 405
    assert wrong_method.json["error"]["code"] == "method_not_allowed"
    assert wrong_method.json["error"]["request_id"] == wrong_method.headers["X-Request-ID"]


def test_a_blank_id_number_counts_as_not_given(client, reporter):
    body = report_body(victim={"id_number": "  "})
    created = client.post("/api/v1/reports", json=body, headers=reporter.headers)
    assert created.status_code == 201, created.json
    view = client.get(f"/api/v1/reports/{created.json['id']}", headers=reporter.headers)
    assert view.json["victim"]["id_number"] is None
    assert view.headers["Cache-Control"] == "no-store"


def test_a_cursor_with_an_out_of_range_time_is_a_validation_error(client, reporter):
    import base64

    cursor = base64.urlsafe_b64encode(f"0001-01-01T00:00:00+14:00|{uuid.uuid4()}".encode()).decode().rstrip("=")
    response = client.get("/api/v1/reports", query_string={"cursor": cursor}, headers=reporter.headers)
    assert response.status_code == 422
    assert list(response.json["error"]["fields"]) == ["cursor"]


def test_an_unknown_field_with_a_hostile_name_is_echoed_safely(client, reporter):
    import json

    body = report_body()
    body["\ud800\x00<b>" + "x" * 500] = 1
    response = client.post("/api/v1/reports", data=json.dumps(body), content_type="application/json",
                           headers=reporter.headers)
    assert response.status_code == 422
    [path] = response.json["error"]["fields"]
    assert len(path) <= 81
    assert "\x00" not in path
    assert "\ud800" not in path
