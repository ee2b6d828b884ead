"""Crypto-shredding: once a report's data key is destroyed, nothing it protected can be read."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from app.crypto.models import DataKey
from app.crypto.service import verify
from app.crypto.vault import DataDestroyedError, FieldDecryptionError, KeyUnavailableError, get_vault
from app.extensions import db
from app.reports.models import Report
from tests.crypto.helpers import fresh_report, read_cell, second_app, submit_report, write_cell

NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


def shred(report_id) -> None:
    """What retention will do: clear the wrapped key and mark it destroyed."""
    key = fresh_report(report_id).data_key
    key.wrapped = None
    key.destroyed_at = NOW
    db.session.commit()


@pytest.mark.parametrize("section", ["reporter", "victim", "incident", "suspect", "police"])
def test_every_section_of_a_shredded_report_is_unreadable_in_a_new_session(client, reporter, section):
    report_id = submit_report(client, reporter)
    shred(report_id)

    with pytest.raises(DataDestroyedError, match="destroyed"):
        fresh_report(report_id).section(section)


def test_a_shredded_report_is_a_404_with_a_chinese_message_in_the_api_while_other_reports_stay_readable(
    client, reporter
):
    kept = submit_report(client, reporter, victim={"name": "留"})
    gone = submit_report(client, reporter, victim={"name": "删"})
    shred(gone)
    db.session.remove()

    response = client.get(f"/api/v1/reports/{gone}", headers=reporter.headers)

    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert response.json["error"]["message"] == "该报告的数据已按规定销毁"
    assert "删" not in response.text
    db.session.remove()
    assert client.get(f"/api/v1/reports/{kept}", headers=reporter.headers).json["victim"]["name"] == "留"
    listed = client.get("/api/v1/reports", headers=reporter.headers)
    assert listed.status_code == 200
    assert {item["id"] for item in listed.json["items"]} == {str(kept), str(gone)}


def test_an_attachment_uploaded_onto_a_shredded_report_is_a_404_and_stores_nothing(client, reporter):
    gone = submit_report(client, reporter)
    shred(gone)
    db.session.remove()

    response = client.post(
        f"/api/v1/reports/{gone}/attachments", headers=reporter.headers,
        data={"file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "a.pdf", "application/pdf")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 404
    assert response.json["error"]["message"] == "该报告的数据已按规定销毁"
    db.session.remove()
    assert fresh_report(gone).attachments == []


def test_the_web_status_page_of_a_shredded_report_is_a_404_page_saying_the_data_was_destroyed(client, reporter):
    gone = submit_report(client, reporter, victim={"name": "删"})
    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)  # verify reads the cost from the hash
    write_cell("reports", "status_code_hash", gone, cheap.hash("ABCDEFGHJK"))
    tracking_no = read_cell("reports", "tracking_no", gone)
    shred(gone)
    db.session.remove()
    form = client.get("/report/status").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)

    response = client.post(
        "/report/status", data={"csrf_token": token, "tracking_no": tracking_no, "status_code": "ABCDEFGHJK"}
    )

    assert response.status_code == 404
    assert "该报告的数据已按规定销毁" in response.text
    assert "删" not in response.text


def test_a_key_marked_destroyed_is_unusable_even_if_its_wrapped_form_survives(client, reporter):
    report_id = submit_report(client, reporter)
    key_id = read_cell("reports", "data_key_id", report_id)
    write_cell("data_keys", "destroyed_at", key_id, NOW)

    with pytest.raises(DataDestroyedError, match="destroyed"):
        fresh_report(report_id).section("victim")


def test_a_key_whose_wrapped_form_was_cleared_is_unusable(client, reporter):
    report_id = submit_report(client, reporter)
    write_cell("data_keys", "wrapped", read_cell("reports", "data_key_id", report_id), None)

    with pytest.raises(KeyUnavailableError):
        fresh_report(report_id).section("victim")


def test_shredding_in_the_same_session_takes_effect_at_once(client, reporter):
    # A long-lived session (a worker, a retention job that then re-reads) must not keep using
    # a raw key cached before the destruction.
    report_id = submit_report(client, reporter)
    report = fresh_report(report_id)
    assert report.section("victim")["name"] == "小花"  # the raw key is now cached on the DataKey
    key = report.data_key
    key.wrapped = None
    key.destroyed_at = NOW
    db.session.commit()

    assert db.session.get(Report, report_id).data_key is key
    assert key.wrapped is None
    assert key.destroyed_at is not None
    with pytest.raises(KeyUnavailableError):
        report.section("victim")


def test_the_shredded_ciphertext_is_not_opened_by_another_reports_data_key(client, reporter):
    victim = submit_report(client, reporter)
    other = submit_report(client, reporter)
    shred(victim)
    write_cell("reports", "data_key_id", victim, read_cell("reports", "data_key_id", other))

    with pytest.raises(FieldDecryptionError):
        fresh_report(victim).section("victim")


def test_rotation_skips_shredded_keys_and_retiring_the_old_kek_is_not_blocked_by_them(
    own_app, own_login, own_runner
):
    client = own_app.test_client()
    kept = submit_report(client, own_login)
    gone = submit_report(client, own_login)
    shred(gone)
    db.session.remove()
    old = get_vault().keyring.current

    rotated = own_runner.invoke(args=["keys", "rotate"])
    db.session.remove()
    assert rotated.exit_code == 0, rotated.output
    assert "re-wrapped 2 data keys; 0 still under older keys" in rotated.output
    retired = own_runner.invoke(args=["keys", "retire", old])
    db.session.remove()
    assert retired.exit_code == 0, retired.output

    keys = {k.id: k for k in db.session.scalars(select(DataKey))}
    assert keys[fresh_report(gone).data_key_id].wrapped is None
    assert fresh_report(kept).section("victim")["name"] == "小花"
    with pytest.raises(KeyUnavailableError):
        fresh_report(gone).section("victim")


def test_a_key_marked_destroyed_whose_wrapped_form_survives_is_skipped_by_rotation_and_blocks_nothing(
    own_app, own_login, own_runner
):
    client = own_app.test_client()
    kept = submit_report(client, own_login)
    gone = submit_report(client, own_login)
    gone_key = read_cell("reports", "data_key_id", gone)
    write_cell("data_keys", "destroyed_at", gone_key, NOW)  # a half-done shred: wrapped is still there
    old = get_vault().keyring.current

    rotated = own_runner.invoke(args=["keys", "rotate"])
    db.session.remove()
    assert rotated.exit_code == 0, rotated.output
    assert "re-wrapped 2 data keys; 0 still under older keys" in rotated.output
    assert read_cell("data_keys", "kek_id", gone_key) == old
    retired = own_runner.invoke(args=["keys", "retire", old])
    db.session.remove()
    assert retired.exit_code == 0, retired.output

    # The keyring check of a new app is not thrown by the destroyed key its keyring can no longer open.
    with second_app(own_app.config["QZBG"]) as fresh, fresh.app_context():
        verify(get_vault())
        db.session.remove()
    assert fresh_report(kept).section("victim")["name"] == "小花"
    with pytest.raises(DataDestroyedError):
        fresh_report(gone).section("victim")
