"""Files chosen in a form that came back with errors are kept (sealed, tied to the form) for the corrected post;
and a store that cannot be written shows the form again instead of an error page (issue 6, B.5 and B.10)."""

from __future__ import annotations

import errno
import time
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.crypto.vault import get_vault
from app.errors import ServiceUnavailableError
from app.reports import attachments, service, staging
from tests.reports.test_web import (
    files_in,
    filled,
    image_bytes,
    open_form,
    parse,
    post_form,
    receipt_codes,
    staged_in,
    stored_reports,
)

PHOTO = image_bytes("PNG", size=(40, 30), noise=True)
OTHER_PHOTO = image_bytes("JPEG", size=(30, 40))
WRONG_PHONE = {"reporter.phone": "12345"}


def staged_names(response: TestResponse) -> list[str]:
    return [n.text() for n in parse(response.text).find_all("span", **{"class": "staged-name"})]


def staged_ids(response: TestResponse) -> list[str]:
    return [n.attrs["value"] for n in parse(response.text).find_all("input", name="staged_remove")]


def refused_with_files(client: FlaskClient, files: list[Any]) -> tuple[dict[str, str], TestResponse]:
    _doc, hidden = open_form(client)
    response = post_form(client, filled(hidden, **WRONG_PHONE, files=files))
    assert response.status_code == 422
    return hidden, response


def test_a_photo_chosen_with_a_mistyped_phone_goes_with_the_corrected_report(app: Flask, client: FlaskClient) -> None:
    directory = app.config["QZBG"].attachments_dir
    hidden, refused = refused_with_files(client, [(PHOTO, "伤情照片.png", "image/png")])
    assert staged_names(refused) == ["伤情照片.png"]
    assert "手机号码" in parse(refused.text).find(data_error_for="reporter.phone").text()

    stored = post_form(client, filled(hidden))  # the browser sends no file again

    assert stored.status_code == 303
    [report] = stored_reports()
    [attachment] = report.attachments
    assert attachment.unseal("filename_data") == "伤情照片.png"
    assert attachments.open_blob(attachment, directory, get_vault()) == PHOTO
    assert staged_in(directory) == []  # staged files go once they are attachments
    tracking_no, status_code = receipt_codes(client, stored.headers["Location"])
    assert service.find_by_status_code(tracking_no, status_code) == report


def test_staged_files_are_sealed_on_disk_and_their_key_is_not_readable_in_the_cookie(
    app: Flask, client: FlaskClient
) -> None:
    from tests.reports.test_web import session_cookie_payload

    directory = app.config["QZBG"].attachments_dir
    refused_with_files(client, [(PHOTO, "伤情照片.png", "image/png")])

    on_disk = b"".join(p.read_bytes() for p in staged_in(directory))
    assert on_disk
    assert PHOTO[:16] not in on_disk
    assert PHOTO[200:232] not in on_disk
    assert "伤情照片".encode() not in on_disk
    assert "staged_keys" in session_cookie_payload(client)
    assert files_in(directory) == []  # nothing is an attachment yet


def test_a_staged_file_ticked_for_removal_is_left_out(app: Flask, client: FlaskClient) -> None:
    hidden, refused = refused_with_files(
        client, [(PHOTO, "a.png", "image/png"), (OTHER_PHOTO, "b.jpg", "image/jpeg")]
    )
    assert staged_names(refused) == ["a.png", "b.jpg"]
    first, _second = staged_ids(refused)

    stored = post_form(client, filled(hidden, staged_remove=first))

    assert stored.status_code == 303
    [report] = stored_reports()
    assert [a.unseal("filename_data") for a in report.attachments] == ["b.jpg"]


def test_a_removal_is_kept_even_when_the_form_is_refused_again(client: FlaskClient) -> None:
    hidden, refused = refused_with_files(
        client, [(PHOTO, "a.png", "image/png"), (OTHER_PHOTO, "b.jpg", "image/jpeg")]
    )
    first, second = staged_ids(refused)

    again = post_form(client, filled(hidden, **WRONG_PHONE, staged_remove=first))

    assert again.status_code == 422
    assert staged_names(again) == ["b.jpg"]
    assert staged_ids(again) == [second]


def test_files_chosen_after_a_refusal_join_the_staged_ones(app: Flask, client: FlaskClient) -> None:
    hidden, _refused = refused_with_files(client, [(PHOTO, "a.png", "image/png")])
    again = post_form(client, filled(hidden, **WRONG_PHONE, files=[(OTHER_PHOTO, "b.jpg", "image/jpeg")]))
    assert staged_names(again) == ["a.png", "b.jpg"]

    stored = post_form(client, filled(hidden, files=[(PHOTO, "c.png", "image/png")]))

    assert stored.status_code == 303
    [report] = stored_reports()
    assert sorted(a.unseal("filename_data") for a in report.attachments) == ["a.png", "b.jpg", "c.png"]


def test_staged_files_count_toward_the_nine_a_report_may_carry(client: FlaskClient) -> None:
    hidden, refused = refused_with_files(client, [(PHOTO, f"{i}.png", "image/png") for i in range(8)])
    assert len(staged_names(refused)) == 8

    again = post_form(client, filled(hidden, **WRONG_PHONE, files=[(PHOTO, "8.png", "image/png"),
                                                                   (PHOTO, "9.png", "image/png")]))

    assert len(staged_names(again)) == 9
    error = parse(again.text).find(data_error_for="files").text()
    assert "9.png" in error
    assert "最多上传9个" in error


def test_staged_files_open_only_in_the_browser_that_chose_them(app: Flask, client: FlaskClient) -> None:
    hidden, refused = refused_with_files(client, [(PHOTO, "a.png", "image/png")])
    other = app.test_client()
    g.pop("csrf_token", None)  # Flask-WTF caches the token in g, which the test's app context keeps
    _doc, other_hidden = open_form(other)

    replay = post_form(other, filled(hidden, csrf_token=other_hidden["csrf_token"], **WRONG_PHONE))

    assert replay.status_code == 422
    assert staged_names(replay) == []
    assert staged_names(post_form(client, filled(hidden, **WRONG_PHONE))) == ["a.png"]


def test_a_file_refused_for_its_type_is_named_and_the_others_are_kept(client: FlaskClient) -> None:
    _doc, hidden = open_form(client)
    files = [(PHOTO, "good.png", "image/png"), ("只是文字".encode(), "fake.jpg", "image/jpeg")]

    refused = post_form(client, filled(hidden, files=files))  # no field error: the store refuses the file

    assert refused.status_code == 422
    assert "fake.jpg" in parse(refused.text).find(data_error_for="files").text()
    assert staged_names(refused) == ["good.png"]
    assert stored_reports() == []
    assert post_form(client, filled(hidden)).status_code == 303
    [report] = stored_reports()
    assert [a.unseal("filename_data") for a in report.attachments] == ["good.png"]


def test_staged_files_of_an_abandoned_form_are_purged_after_a_few_hours(app: Flask, client: FlaskClient) -> None:
    directory = app.config["QZBG"].attachments_dir
    refused_with_files(client, [(PHOTO, "a.png", "image/png")])
    assert staged_in(directory)

    assert staging.purge(directory, now=time.time() + 60) == 0
    assert staging.purge(directory, now=time.time() + staging.STAGED_TTL + 60) == 1

    assert staged_in(directory) == []


def test_a_staged_file_damaged_on_disk_is_asked_for_again_not_stored_broken(app: Flask, client: FlaskClient) -> None:
    directory = app.config["QZBG"].attachments_dir
    hidden, _refused = refused_with_files(client, [(PHOTO, "a.png", "image/png")])
    [blob] = [p for p in staged_in(directory) if p.suffix == ".blob"]
    damaged = bytearray(blob.read_bytes())
    damaged[-1] ^= 1
    blob.write_bytes(bytes(damaged))

    response = post_form(client, filled(hidden))

    assert response.status_code == 422
    assert "a.png" in parse(response.text).find(data_error_for="files").text()
    assert staged_names(response) == []
    assert stored_reports() == []


def test_a_store_that_cannot_stage_says_the_files_must_be_chosen_again(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(staging, "_stage_one", full_disk)

    _hidden, refused = refused_with_files(client, [(PHOTO, "a.png", "image/png")])

    summary = parse(refused.text).find("div", id="form-errors")
    assert "请重新选择" in summary.text()
    assert staged_names(refused) == []


# --- B.5: the attachments store is full or read-only -------------------------------------------------------------


def test_an_unwritable_attachments_store_shows_the_form_again_with_a_503_and_stores_nothing(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise ServiceUnavailableError("附件暂时无法保存，请稍后再试")

    monkeypatch.setattr(attachments, "store", unavailable)
    _doc, hidden = open_form(client)

    response = post_form(client, filled(hidden, files=[(PHOTO, "a.png", "image/png")]))

    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    doc = parse(response.text)
    assert "暂时无法保存报告" in doc.find("div", id="form-errors").text()
    assert doc.find("input", name="reporter.name").attrs["value"] == "王医生"
    assert doc.find("input", name="form_key").attrs["value"] == hidden["form_key"]
    assert staged_names(response) == ["a.png"]  # the staging area could still be written
    assert stored_reports() == []
    assert files_in(app.config["QZBG"].attachments_dir) == []

    monkeypatch.undo()
    stored = post_form(client, filled(hidden))
    assert stored.status_code == 303
    [report] = stored_reports()
    assert len(report.attachments) == 1
    tracking_no, status_code = receipt_codes(client, stored.headers["Location"])
    assert service.find_by_status_code(tracking_no, status_code) == report


def test_a_store_and_staging_area_both_unwritable_ask_for_the_files_again(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(*args: Any, **kwargs: Any) -> None:
        raise ServiceUnavailableError()

    def read_only(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(attachments, "store", unavailable)
    monkeypatch.setattr(staging, "_stage_one", read_only)
    _doc, hidden = open_form(client)

    response = post_form(client, filled(hidden, files=[(PHOTO, "a.png", "image/png")]))

    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert "请重新选择" in parse(response.text).find("div", id="form-errors").text()
    assert stored_reports() == []


def test_staging_is_bounded_so_anonymous_refused_posts_cannot_fill_the_disk(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staging, "STAGED_AREA_BYTES", len(PHOTO) + len(OTHER_PHOTO) // 2)

    _hidden, refused = refused_with_files(client, [(PHOTO, "a.png", "image/png"), (OTHER_PHOTO, "b.jpg", "image/jpeg")])

    assert staged_names(refused) == ["a.png"]
    error = parse(refused.text).find(data_error_for="files").text()
    assert "b.jpg" in error
    assert "重新选择" in error
    _hidden, another = refused_with_files(client, [(PHOTO, "c.png", "image/png")])
    assert staged_names(another) == []


def test_files_that_expired_while_the_form_was_open_are_asked_for_again_not_silently_dropped(
    app: Flask, client: FlaskClient
) -> None:
    directory = app.config["QZBG"].attachments_dir
    hidden, refused = refused_with_files(client, [(PHOTO, "a.png", "image/png")])
    listed = [n.attrs["value"] for n in parse(refused.text).find_all("input", name="staged_file")]
    assert listed == staged_ids(refused)
    staging.purge(directory, now=time.time() + staging.STAGED_TTL + 60)

    response = post_form(client, filled(hidden, staged_file=listed))

    assert response.status_code == 422
    assert "已过期" in parse(response.text).find(data_error_for="files").text()
    assert stored_reports() == []


def test_a_staged_file_ticked_for_removal_is_not_missed(client: FlaskClient) -> None:
    hidden, refused = refused_with_files(client, [(PHOTO, "a.png", "image/png")])
    [file_id] = staged_ids(refused)

    stored = post_form(client, filled(hidden, staged_file=file_id, staged_remove=file_id))

    assert stored.status_code == 303
    [report] = stored_reports()
    assert report.attachments == []
