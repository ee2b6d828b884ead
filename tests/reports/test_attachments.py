"""Attachments: type from bytes, limits while streaming, sealed on disk under opaque names."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from app.crypto.cipher import DecryptionError
from app.crypto.vault import get_vault
from app.extensions import db
from app.reports import attachments
from app.reports.models import Attachment, Report
from tests.conftest import login_reporter
from tests.factories import report_body


def png_bytes(size=(32, 32), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 10)).save(out, "JPEG")
    return out.getvalue()


def webp_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16)).save(out, "WEBP")
    return out.getvalue()


def heic_bytes() -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (30, 30, 200)).save(out, "HEIF")
    return out.getvalue()


SAMPLES = {
    "image/jpeg": jpeg_bytes,
    "image/png": png_bytes,
    "image/webp": webp_bytes,
    "image/heic": heic_bytes,
    "video/mp4": lambda: b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00" * 64,
    "audio/mp4": lambda: b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + b"\x00" * 64,
    "audio/aac": lambda: b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x21" * 64,
    "audio/mpeg": lambda: b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" * 20,
    "audio/amr": lambda: b"#!AMR\n" + b"\x3c" * 64,
    "application/pdf": lambda: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
}


def upload(client, reporter, report_id, data: bytes, filename="photo.jpg", content_type="image/jpeg"):
    return client.post(
        f"/api/v1/reports/{report_id}/attachments",
        data={"file": (io.BytesIO(data), filename, content_type)},
        headers=reporter.headers,
        content_type="multipart/form-data",
    )


@pytest.fixture
def report_id(client, reporter):
    return client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).json["id"]


def attachment_files(app):
    directory = app.config["QZBG"].attachments_dir
    return sorted(p for p in directory.iterdir()) if directory.exists() else []


@pytest.mark.parametrize("content_type", list(SAMPLES))
def test_every_accepted_format_is_recognised_from_its_bytes(client, reporter, report_id, content_type):
    # The declared type and name say "text"; only the bytes count.
    response = upload(client, reporter, report_id, SAMPLES[content_type](), "note.txt", "text/plain")
    assert response.status_code == 201, response.json
    assert response.json["content_type"] == content_type


def test_upload_is_sealed_on_disk_under_an_opaque_name(app, client, reporter, report_id):
    data = png_bytes()
    response = upload(client, reporter, report_id, data, "小花的伤情照片.png", "image/png")
    assert response.status_code == 201
    assert response.json["filename"] == "小花的伤情照片.png"
    assert response.json["size"] == len(data)
    [blob] = attachment_files(app)
    assert "小花" not in blob.name
    assert "png" not in blob.name.lower()
    raw = blob.read_bytes()
    assert data[:16] not in raw
    assert b"IHDR" not in raw
    stored = db.session.scalars(select(Attachment)).one()
    assert "小花".encode() not in stored.filename_data
    assert attachments.open_blob(stored, app.config["QZBG"].attachments_dir, get_vault()) == data


def test_reporter_view_lists_attachments(client, reporter, report_id):
    upload(client, reporter, report_id, png_bytes(), "a.png")
    view = client.get(f"/api/v1/reports/{report_id}", headers=reporter.headers).json
    assert [(a["filename"], a["content_type"]) for a in view["attachments"]] == [("a.png", "image/png")]


def test_unrecognised_bytes_are_refused_whatever_the_name_says(app, client, reporter, report_id):
    response = upload(client, reporter, report_id, b"just some text pretending\n" * 10, "photo.jpg", "image/jpeg")
    assert response.status_code == 422
    assert list(response.json["error"]["fields"]) == ["file"]
    assert attachment_files(app) == []
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_empty_file_and_missing_field_are_refused(client, reporter, report_id):
    assert upload(client, reporter, report_id, b"").status_code == 422
    response = client.post(
        f"/api/v1/reports/{report_id}/attachments", data={"other": "x"}, headers=reporter.headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "file" in response.json["error"]["fields"]


def test_upload_must_be_multipart(client, reporter, report_id):
    response = client.post(f"/api/v1/reports/{report_id}/attachments", json={"file": "x"}, headers=reporter.headers)
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"


def test_tenth_attachment_is_refused(app, client, reporter, report_id):
    for _ in range(attachments.MAX_PER_REPORT):
        assert upload(client, reporter, report_id, png_bytes()).status_code == 201
    response = upload(client, reporter, report_id, png_bytes())
    assert response.status_code == 422
    assert len(attachment_files(app)) == attachments.MAX_PER_REPORT


def test_another_reporters_report_takes_no_attachment(client, other_reporter, report_id):
    response = upload(client, other_reporter, report_id, png_bytes())
    assert response.status_code == 404


def test_attachments_close_once_the_report_is_transferred(client, reporter, report_id):
    report = db.session.get(Report, uuid.UUID(report_id))
    report.status = "transferred"
    db.session.commit()
    response = upload(client, reporter, report_id, png_bytes())
    assert response.status_code == 409
    assert response.json["error"]["code"] == "conflict"


@pytest.fixture
def small_limit_app(make_app):
    """The app with a 1 MB attachment limit."""
    return make_app(max_attachment_mb=1)


def _big_png_like(size: int) -> bytes:
    return png_bytes()[:64] + b"\x00" * (size - 64)


def upload_in_memory(client, reporter, report_id, data: bytes, filename: str):
    """A multipart body built in memory (the test client spools big bodies to temp files it never closes)."""
    boundary, body = encode_multipart(MultiDict({"file": FileStorage(io.BytesIO(data), filename, "file")}))
    return client.post(
        f"/api/v1/reports/{report_id}/attachments", data=body, headers=reporter.headers,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_file_over_the_limit_is_refused_while_streaming_and_leaves_nothing(small_limit_app):
    client = small_limit_app.test_client()
    reporter = login_reporter("o-big-upload")
    report_id = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).json["id"]
    # Over the 1 MB file limit but under the request cap: the streaming check in store() refuses it.
    response = upload_in_memory(client, reporter, report_id, _big_png_like(1024 * 1024 + 10), "big.png")
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert list(small_limit_app.config["QZBG"].attachments_dir.glob("*")) == []
    assert list(small_limit_app.config["QZBG"].attachments_dir.glob(".*")) == []


def test_request_far_over_the_limit_is_refused_before_it_is_read(small_limit_app):
    client = small_limit_app.test_client()
    reporter = login_reporter("o-huge-upload")
    report_id = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).json["id"]
    response = upload_in_memory(client, reporter, report_id, _big_png_like(3 * 1024 * 1024), "huge.png")
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"


def test_blob_swapped_between_attachments_fails_to_open(app, client, reporter, report_id):
    upload(client, reporter, report_id, png_bytes(color=(1, 2, 3)), "a.png")
    upload(client, reporter, report_id, png_bytes(color=(4, 5, 6)), "b.png")
    first, second = db.session.scalars(select(Attachment).order_by(Attachment.created_at)).all()
    directory = app.config["QZBG"].attachments_dir
    a, b = directory / first.storage_name, directory / second.storage_name
    a_bytes, b_bytes = a.read_bytes(), b.read_bytes()
    a.write_bytes(b_bytes)
    b.write_bytes(a_bytes)
    first.stored_size, second.stored_size = second.stored_size, first.stored_size
    with pytest.raises(DecryptionError):
        attachments.open_blob(first, directory, get_vault())


def test_parallel_uploads_never_pass_the_limit(app, client, reporter, report_id):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    db.session.rollback()
    data = png_bytes()
    barrier = threading.Barrier(12)

    def send(_):
        own = app.test_client()
        barrier.wait()
        return upload(own, reporter, report_id, data).status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(send, range(12)))
    assert statuses.count(201) == attachments.MAX_PER_REPORT
    assert statuses.count(422) == 12 - attachments.MAX_PER_REPORT
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == attachments.MAX_PER_REPORT


def _store_without_commit(app, report_id):
    import datetime as dt

    report = db.session.get(Report, uuid.UUID(report_id))
    settings = app.config["QZBG"]
    return attachments.store(
        report, io.BytesIO(png_bytes()), "a.png", directory=settings.attachments_dir,
        max_bytes=settings.max_attachment_bytes, now=dt.datetime.now(dt.UTC), vault=get_vault(),
    )


def test_a_blob_of_a_transaction_that_never_commits_is_removed(app, report_id):
    _store_without_commit(app, report_id)
    assert len(attachment_files(app)) == 1
    db.session.close()  # what the request teardown does after an unexpected error
    assert attachment_files(app) == []


def test_a_savepoint_rolling_back_keeps_the_blobs_of_the_outer_transaction(app, report_id):
    _store_without_commit(app, report_id)
    with db.session.begin_nested() as savepoint:
        savepoint.rollback()
    db.session.commit()
    assert len(attachment_files(app)) == 1
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 1
