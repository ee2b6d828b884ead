"""Practice reports (CONTRACT.md's ``training``): taken by the API and the form's training entry, kept in a
training queue of their own, never notified, marked 培训 wherever they are shown, deleted after 7 days; and the
培训演示环境 banner of a training deployment (``QZBG_TRAINING=1``) on public and staff pages."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.core.actor import Actor
from app.crypto.models import DataKey
from app.crypto.vault import get_vault
from app.extensions import db
from app.notify.models import OutboxMessage
from app.notify.service import Outbound
from app.offices.models import PoliceUnit
from app.reporters import subscriptions
from app.reporters.models import Reporter
from app.reports import attachments
from app.reports.models import Attachment, Report, ReportCategory, ReportEvent
from app.reports.records import Question, Transfer
from app.reports.training import TRAINING_RETENTION, purge_expired_training
from app.review import service as review
from tests.auth.conftest import login
from tests.conftest import login_reporter
from tests.factories import create_report, create_staff, report_body
from tests.reports.test_web import filled, open_form, parse, post_form

BANNER = "培训演示环境"
ROW = re.compile(r'data-tracking-no="(QZBG-[0-9-]+)"')
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00"
       b"\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")


def stored(tracking_no: str) -> Report:
    db.session.expire_all()
    return db.session.scalars(select(Report).where(Report.tracking_no == tracking_no)).one()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


# --- the API ----------------------------------------------------------------------------------------------------


def test_a_report_sent_with_training_true_is_stored_as_a_practice_report_and_shown_as_one(client, reporter):
    created = client.post("/api/v1/reports", json=report_body(training=True), headers=reporter.headers)
    assert created.status_code == 201
    assert stored(created.json["tracking_no"]).training is True
    detail = client.get(f"/api/v1/reports/{created.json['id']}", headers=reporter.headers)
    assert detail.json["training"] is True


def test_a_report_without_the_training_field_is_a_real_one(client, reporter):
    body = report_body()
    body.pop("training", None)
    created = client.post("/api/v1/reports", json=body, headers=reporter.headers)
    assert created.status_code == 201
    assert stored(created.json["tracking_no"]).training is False
    assert client.get(f"/api/v1/reports/{created.json['id']}", headers=reporter.headers).json["training"] is False


@pytest.mark.parametrize("value", ["true", 1, "1", None, [], {}])
def test_a_training_value_that_is_not_a_boolean_is_a_422_in_chinese_and_stores_nothing(client, reporter, value):
    answer = client.post("/api/v1/reports", json=report_body(training=value), headers=reporter.headers)
    assert answer.status_code == 422
    assert answer.json["error"]["code"] == "validation_error"
    message = " ".join(answer.json["error"]["fields"]["training"])
    assert re.search(r"[\u4e00-\u9fff]", message), message
    assert count(Report) == 0


def test_the_openapi_document_states_the_training_field_as_an_optional_boolean(client):
    document = client.get("/api/v1/openapi.json").json
    schemas = document["components"]["schemas"]
    body = next(s for name, s in schemas.items()
                if name.startswith("Report") and "client_id" in s.get("properties", {}))
    assert body["properties"]["training"]["type"] == "boolean"
    assert "training" not in body.get("required", [])


# --- the web form's training entry --------------------------------------------------------------------------------


def test_the_training_entry_of_the_form_says_so_and_its_report_is_a_practice_one_marked_on_the_receipt(client):
    doc, hidden = open_form(client, "?training=1")
    assert "培训练习" in doc.find(data_field="training_notice").text()
    assert doc.find("input", name="training").attrs["value"] == "1"
    posted = post_form(client, filled(hidden, training="1"))
    assert posted.status_code == 303
    receipt = parse(client.get(posted.headers["Location"]).text)
    assert receipt.find(data_field="training").text() == "培训"
    assert stored(receipt.find(data_field="tracking_no").text()).training is True


def test_the_ordinary_form_has_no_training_entry_and_files_real_reports(client):
    doc, hidden = open_form(client)
    assert not doc.find_all("input", name="training")
    assert not doc.find_all(data_field="training_notice")
    posted = post_form(client, filled(hidden))
    receipt = parse(client.get(posted.headers["Location"]).text)
    assert not receipt.find_all(data_field="training")
    assert stored(receipt.find(data_field="tracking_no").text()).training is False


def test_a_refused_training_form_comes_back_still_a_training_form(client):
    _doc, hidden = open_form(client, "?training=1")
    again = post_form(client, filled(hidden, training="1", **{"reporter.name": ""}))
    assert again.status_code == 422
    page = parse(again.text)
    assert page.find("input", name="training").attrs["value"] == "1"
    assert page.find_all(data_field="training_notice")
    assert count(Report) == 0


def test_a_training_value_the_form_cannot_send_is_shown_beside_the_form_and_stores_nothing(client):
    _doc, hidden = open_form(client, "?training=1")
    again = post_form(client, filled(hidden, training="yes"))
    assert again.status_code == 422
    assert "请选择“是”或“否”" in again.text
    assert count(Report) == 0


def test_the_status_page_of_a_practice_report_marks_it(client):
    _doc, hidden = open_form(client, "?training=1")
    posted = post_form(client, filled(hidden, training="1"))
    receipt = parse(client.get(posted.headers["Location"]).text)
    tracking_no = receipt.find(data_field="tracking_no").text()
    code = receipt.find(data_field="status_code").text()
    token = parse(client.get("/report/status").text).find("input", name="csrf_token").attrs["value"]
    answer = client.post("/report/status", data={"csrf_token": token, "tracking_no": tracking_no, "status_code": code})
    assert answer.status_code == 200
    page = parse(answer.text)
    assert page.find(data_field="training").text() == "培训"


# --- the training queue -------------------------------------------------------------------------------------------


def test_practice_reports_are_left_out_of_the_inbox_and_listed_only_under_the_training_filter(app):
    real = create_report()
    practice = create_report(training=True)
    prosecutor = create_staff(role="prosecutor")
    db.session.commit()
    client = app.test_client()
    assert login(client, prosecutor).status_code == 303

    default = client.get("/review/").get_data(as_text=True)
    assert ROW.findall(default) == [real.tracking_no]
    assert re.search(r'data-status-count="training">1<', default)
    assert re.search(r'data-status-count="new">1<', default)  # the tabs count real reports only

    queue = client.get("/review/?training=1").get_data(as_text=True)
    assert ROW.findall(queue) == [practice.tracking_no]
    assert "培训练习队列" in queue
    assert parse(queue).find(data_field="training").text() == "培训"
    detail = client.get(f"/review/reports/{practice.id}").get_data(as_text=True)
    assert 'data-field="training"' in detail


def test_a_practice_report_past_its_deadline_is_not_on_the_overdue_page(app):
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    real = create_report(now=long_ago)
    practice = create_report(now=long_ago, training=True)
    prosecutor = create_staff(role="prosecutor")
    db.session.commit()
    client = app.test_client()
    assert login(client, prosecutor).status_code == 303
    page = client.get("/review/overdue").get_data(as_text=True)
    assert real.tracking_no in page
    assert practice.tracking_no not in page


def test_a_practice_report_queues_no_message_to_its_reporter_where_a_real_one_does(make_app):
    make_app(wechat_status_template_id="TPL")
    login = login_reporter("o-training")
    subscriptions.record_grants(login.id, ["TPL", "TPL", "TPL"], now=dt.datetime.now(dt.UTC))
    db.session.commit()
    reporter = db.session.get(Reporter, login.id)
    def to_reporters() -> int:
        return db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                 .where(OutboxMessage.channel == "wechat_subscribe")) or 0

    create_report(status="reviewing", reporter=reporter)
    assert to_reporters() == 1  # the real report's 已受理 went to the outbox
    practice = create_report(status="reviewing", reporter=reporter, training=True)
    assert to_reporters() == 1
    # The staff hear of a practice report in the sandbox only.
    channels = set(db.session.scalars(select(OutboxMessage.channel).where(OutboxMessage.report_id == practice.id)))
    assert channels <= {"sandbox"}


# --- deletion after 7 days ----------------------------------------------------------------------------------------


def _with_everything(report: Report, directory, now: dt.datetime) -> Attachment:
    """An attachment blob, a question and a transfer: what the purge must take along."""
    stored_file = attachments.store(report, io.BytesIO(PNG), "伤情.png", directory=directory, max_bytes=10**6,
                                    now=now, vault=get_vault())
    question = Question(report_id=report.id, asked_at=now)
    question.report = report
    question.seal("text_data", "请补充")
    db.session.add(question)
    db.session.commit()
    return stored_file


def test_practice_reports_go_after_7_days_with_their_rows_keys_and_blobs_and_real_reports_stay(app):
    directory = app.config["QZBG"].attachments_dir
    submitted = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    old_practice = create_report(now=submitted, training=True)
    blob = directory / _with_everything(old_practice, directory, submitted).storage_name
    old_real = create_report(now=submitted)
    real_blob = directory / _with_everything(old_real, directory, submitted).storage_name
    young_practice = create_report(training=True)
    assert blob.exists()
    assert real_blob.exists()
    gone_key = old_practice.data_key_id
    gone_id = old_practice.id

    assert purge_expired_training(dt.datetime.now(dt.UTC),
                                  attachments_dir=current_app.config["QZBG"].attachments_dir) == 1
    assert blob.exists()  # removed only once the deletion commits
    db.session.commit()

    assert not blob.exists()
    assert real_blob.exists()
    assert {r.tracking_no for r in db.session.scalars(select(Report))} == {old_real.tracking_no,
                                                                          young_practice.tracking_no}
    for model in (ReportEvent, ReportCategory, Attachment, Question):
        assert db.session.scalar(select(func.count()).select_from(model).where(model.report_id == gone_id)) == 0
    assert db.session.get(DataKey, gone_key) is None
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "report.purge_training")).one()
    assert (entry.target_id, entry.actor_role) == (str(gone_id), "system")


def test_a_practice_report_is_kept_until_its_7_days_are_over(app):
    submitted = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    practice = create_report(now=submitted, training=True)
    assert purge_expired_training(submitted + TRAINING_RETENTION - dt.timedelta(minutes=1),
                                  attachments_dir=current_app.config["QZBG"].attachments_dir) == 0
    db.session.commit()
    assert stored(practice.tracking_no).training is True
    assert purge_expired_training(submitted + TRAINING_RETENTION + dt.timedelta(minutes=1),
                                  attachments_dir=current_app.config["QZBG"].attachments_dir) == 1
    db.session.commit()
    assert count(Report) == 0


def test_a_purge_that_rolls_back_leaves_the_reports_and_their_blobs(app):
    directory = app.config["QZBG"].attachments_dir
    submitted = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    practice = create_report(now=submitted, training=True)
    blob = directory / _with_everything(practice, directory, submitted).storage_name
    assert purge_expired_training(dt.datetime.now(dt.UTC),
                                  attachments_dir=current_app.config["QZBG"].attachments_dir) == 1
    db.session.rollback()
    assert blob.exists()
    assert stored(practice.tracking_no).training is True
    assert count(Attachment) == 1


def test_a_transferred_practice_report_goes_with_its_transfer_and_a_real_report_merged_into_it_stays(app):
    submitted = dt.datetime.now(dt.UTC) - dt.timedelta(days=9)
    db.session.add(PoliceUnit(code="pcs-t", name="城北派出所", office_id=1))
    prosecutor = Actor.staff(create_staff(role="prosecutor"))
    practice = create_report(now=submitted, training=True)
    real = create_report(now=submitted, status="reviewing")
    step = submitted + dt.timedelta(minutes=5)
    review.acknowledge(practice, actor=prosecutor, version=practice.version, now=step)
    review.transfer(practice, police_unit="pcs-t", document_no="练习〔2026〕1号", contact=None, share_reporter=False,
                    note=None, actor=prosecutor, version=practice.version, now=step, deadlines=review.Deadlines(),
                    outbound=Outbound.of(current_app.config["QZBG"]))
    review.close(real, "duplicate", merge_into=practice.tracking_no, note=None, actor=prosecutor,
                 version=real.version, now=step)
    db.session.commit()
    assert count(Transfer) == 1

    assert purge_expired_training(dt.datetime.now(dt.UTC),
                                  attachments_dir=current_app.config["QZBG"].attachments_dir) == 1
    db.session.commit()
    assert count(Transfer) == 0
    kept = stored(real.tracking_no)
    assert (kept.status, kept.close_reason, kept.merged_into_id) == ("closed", "duplicate", None)


# --- the banner of a training deployment --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/report", "/report/status", "/login"])
def test_a_training_deployment_shows_the_banner_on_public_and_staff_pages(make_app, path):
    app = make_app(training=True)
    page = app.test_client().get(path)
    assert page.status_code == 200
    assert BANNER in page.get_data(as_text=True)


@pytest.mark.parametrize("training", [True, False])
def test_the_banner_is_on_the_staff_inbox_of_a_training_deployment_only(make_app, training):
    app = make_app(training=training)
    prosecutor = create_staff(role="prosecutor")
    db.session.commit()
    client = app.test_client()
    assert login(client, prosecutor).status_code == 303
    inbox = client.get("/review/")
    assert inbox.status_code == 200
    assert (BANNER in inbox.get_data(as_text=True)) is training
    assert (BANNER in client.get("/report").get_data(as_text=True)) is training


@pytest.mark.parametrize("training", [True, False])
def test_the_printable_pages_of_a_training_deployment_carry_the_banner_too(make_app, training):
    """The pages with their own layout (poster, poster sheet, transfer letter, joint-meeting view): a poster or a
    letter printed in a training deployment says it is for training."""
    from tests.factories import create_unit
    from tests.review.detail_helpers import transfer

    app = make_app(training=training)
    db.session.add(PoliceUnit(code="pcs-north", name="城北派出所", office_id=1))
    create_unit("hosp-banner", name="横幅医院")
    prosecutor, admin = create_staff(role="prosecutor"), create_staff(role="admin")
    report = create_report(status="reviewing")
    record = transfer(report, Actor.staff(prosecutor))
    staff, office_admin = app.test_client(), app.test_client()
    assert login(staff, prosecutor).status_code == 303
    assert login(office_admin, admin).status_code == 303
    pages = {
        "/units/hosp-banner/poster": app.test_client().get("/units/hosp-banner/poster"),
        "/admin/units/posters": office_admin.get("/admin/units/posters"),
        "letter": staff.get(f"/review/reports/{report.id}/transfers/{record.id}/letter"),
        "/review/stats/meeting": staff.get("/review/stats/meeting"),
    }
    for name, answer in pages.items():
        assert answer.status_code == 200, name
        assert (BANNER in answer.get_data(as_text=True)) is training, name
    sheet = pages["/admin/units/posters"].get_data(as_text=True)
    assert sheet.count(BANNER) == (sheet.count('class="poster"') if training else 0)  # on every printed poster
