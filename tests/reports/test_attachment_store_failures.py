"""A full, read-only or missing attachments store is a 503 with Retry-After, never a 500, and leaves nothing."""

from __future__ import annotations

import errno
import io
import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.extensions import db
from app.reports.models import Attachment
from tests.conftest import login_reporter
from tests.factories import report_body


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((128, 128), 80).convert("RGB").save(out, "PNG")
    return out.getvalue()


def pdf_bytes() -> bytes:
    return b"%PDF-1.4\n" + b"0" * 200_000 + b"\n%%EOF\n"


def upload(client, reporter, report_id, data: bytes):
    return client.post(
        f"/api/v1/reports/{report_id}/attachments",
        data={"file": (io.BytesIO(data), "a.png", "image/png")},
        headers=reporter.headers, content_type="multipart/form-data",
    )


def everything_in(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*")) if directory.is_dir() else []


def assert_unavailable_and_nothing_stored(response, directory: Path) -> None:
    assert response.status_code == 503, response.json
    error = response.json["error"]
    assert error["code"] == "service_unavailable"
    assert "稍后再试" in error["message"]
    assert response.headers["Retry-After"] == "30", response.headers
    assert int(response.headers["Retry-After"]) > 0
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert everything_in(directory) == []


def new_report(client) -> tuple[object, str]:
    reporter = login_reporter("o-store-failure")
    response = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers)
    assert response.status_code == 201
    return reporter, response.json["id"]


def test_a_store_whose_parent_is_a_file_answers_503_and_stores_nothing(make_app, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"x")
    app = make_app(attachments_dir=blocker / "attachments")
    client = app.test_client()
    reporter, report_id = new_report(client)

    response = upload(client, reporter, report_id, png_bytes())

    assert_unavailable_and_nothing_stored(response, blocker)
    assert blocker.read_bytes() == b"x"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EIO])
@pytest.mark.parametrize("kind", ["photo", "streamed file"])
def test_a_disk_error_while_writing_answers_503_with_no_row_and_no_blob(app, client, reporter, code, kind,
                                                                          monkeypatch, caplog):
    report_id = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).json["id"]
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        real_fsync(fd)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", failing_fsync)

    response = upload(client, reporter, report_id, png_bytes() if kind == "photo" else pdf_bytes())

    directory = app.config["QZBG"].attachments_dir
    assert_unavailable_and_nothing_stored(response, directory)
    [event] = [r for r in caplog.records if r.getMessage() == "attachment_store_unwritable"]
    assert event.errno == errno.errorcode[code]
    assert str(directory) not in repr(event.__dict__)


def test_the_next_upload_succeeds_once_the_store_is_writable_again(app, client, reporter, monkeypatch):
    report_id = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).json["id"]
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError(errno.EROFS, "read-only")))
        assert upload(client, reporter, report_id, png_bytes()).status_code == 503

    response = upload(client, reporter, report_id, png_bytes())

    assert response.status_code == 201
    assert len(everything_in(app.config["QZBG"].attachments_dir)) == 1


# --- a real small filesystem, where the machine allows mounting one (root on Linux) -----------------------------


@pytest.fixture
def tiny_tmpfs(tmp_path):
    mount = shutil.which("mount")
    point = tmp_path / "tiny"
    point.mkdir()
    if mount is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    done = subprocess.run([mount, "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def fill_up(path: Path) -> int:
    """Write until the filesystem is full; the errno it answered."""
    with path.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError as full:
            return full.errno or 0


def test_a_really_full_filesystem_answers_503_and_keeps_nothing(make_app, tiny_tmpfs):
    directory = tiny_tmpfs / "attachments"
    directory.mkdir()
    assert fill_up(tiny_tmpfs / "filler") == errno.ENOSPC
    app = make_app(attachments_dir=directory)
    client = app.test_client()
    reporter, report_id = new_report(client)

    response = upload(client, reporter, report_id, png_bytes())

    assert_unavailable_and_nothing_stored(response, directory)


def test_a_really_read_only_filesystem_answers_503(make_app, tiny_tmpfs):
    directory = tiny_tmpfs / "attachments"
    directory.mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_tmpfs)], check=True)
    app = make_app(attachments_dir=directory)
    client = app.test_client()
    reporter, report_id = new_report(client)

    response = upload(client, reporter, report_id, png_bytes())

    assert_unavailable_and_nothing_stored(response, directory)


def test_the_store_logs_no_path_or_message_text(app, client, reporter, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    report_id = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).json["id"]
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left")))

    assert upload(client, reporter, report_id, png_bytes()).status_code == 503

    logged = " ".join(repr(r.__dict__) for r in caplog.records)
    assert "No space left" not in logged
    assert str(app.config["QZBG"].attachments_dir) not in logged


# --- the encrypted spool that holds an upload while the request is parsed ---------------------------------------


class FullDisk(io.RawIOBase):
    """A temporary file on a full disk: every write fails."""

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return offset

    def write(self, data) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where", ["creating", "writing"])
def test_a_full_temporary_directory_while_the_upload_is_parsed_answers_503(app, client, reporter, where,
                                                                         monkeypatch):
    from app.core import spool

    report_id = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).json["id"]

    def temporary_file():
        if where == "creating":
            raise OSError(errno.ENOSPC, "No space left on device")
        return FullDisk()

    monkeypatch.setattr(spool.tempfile, "TemporaryFile", temporary_file)

    response = upload(client, reporter, report_id, png_bytes())

    assert_unavailable_and_nothing_stored(response, app.config["QZBG"].attachments_dir)
