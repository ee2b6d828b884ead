"""Attachments: recognised from their bytes, size-checked while streaming, sealed on disk.

Files live under ``QZBG_ATTACHMENTS_DIR`` with random names; the original name
is a sealed column. The blob is AEAD-sealed with the report's data key, bound
to the attachment row, so a blob swapped between rows fails to open.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.core.fields import clean_text
from app.core.sniff import EXTENSIONS, SNIFF_BYTES, sniff
from app.crypto.vault import get_vault
from app.errors import ConflictError, PayloadTooLargeError, ValidationError
from app.extensions import db
from app.reports.models import Attachment, Report

MAX_PER_REPORT = 9
UNSUPPORTED_TYPE = "不支持的文件类型：仅接受 JPEG、PNG、WebP、HEIC 图片，MP4 视频，MP3、M4A、AAC、AMR 音频和 PDF"
CHUNK = 64 * 1024
# Reporter-visible statuses submitted/received: the report is not yet with the police.
OPEN_FOR_UPLOAD = ("new", "reviewing")


class _TooLarge(Exception):
    pass


# Blobs written in the open transaction: removed again if it rolls back.
_NEW_FILES = "qzbg.new_attachment_files"


@event.listens_for(Session, "after_commit")
def _forget_new_files(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outer transaction may still roll back
    session.info.pop(_NEW_FILES, None)


@event.listens_for(Session, "after_transaction_end")
def _remove_new_files(session: Session, transaction: Any) -> None:
    """The outermost transaction ended without a commit (rolled back, or the session closed): its
    blobs go. A savepoint rolling back leaves them, since the outer transaction may still commit."""
    if transaction.parent is not None or transaction.nested:
        return
    for path in session.info.pop(_NEW_FILES, []):
        path.unlink(missing_ok=True)


def _chunks(head: bytes, stream: BinaryIO, limit: int) -> Iterator[bytes]:
    total = len(head)
    if total > limit:
        raise _TooLarge
    yield head
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return
        total += len(chunk)
        if total > limit:
            raise _TooLarge
        yield chunk


def clean_filename(name: str | None, content_type: str) -> str:
    base = clean_text(os.path.basename((name or "").replace("\\", "/")), multiline=False)[:100]
    return base or f"附件.{EXTENSIONS[content_type]}"


def store(
    report: Report,
    stream: BinaryIO,
    filename: str | None,
    *,
    directory: Path,
    max_bytes: int,
    now: dt.datetime,
) -> Attachment:
    """Seal one upload to disk and add its row; nothing stays behind when it is refused.

    The report row is locked first, so parallel uploads cannot pass the limit or
    land after the report moved on.
    """
    db.session.refresh(report, attribute_names=["status", "version"], with_for_update=True)
    if report.status not in OPEN_FOR_UPLOAD:
        raise ConflictError("该报告已移送或办结，不能再补充附件")
    stored = db.session.scalar(select(func.count()).select_from(Attachment).where(Attachment.report_id == report.id))
    if (stored or 0) >= MAX_PER_REPORT:
        raise ValidationError(fields={"file": [f"每份报告最多上传{MAX_PER_REPORT}个附件"]})
    head = stream.read(SNIFF_BYTES)
    if not head:
        raise ValidationError(fields={"file": ["文件为空，请重新选择"]})
    content_type = sniff(head)
    if content_type is None:
        raise ValidationError(
            fields={"file": [UNSUPPORTED_TYPE]}
        )
    attachment = Attachment(
        id=uuid.uuid4(), report_id=report.id, storage_name=secrets.token_hex(16), content_type=content_type,
        created_at=now,
    )
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / attachment.storage_name
    partial = directory / f".{attachment.storage_name}.part"
    try:
        with partial.open("xb") as out:
            attachment.size = get_vault().encrypt_stream(
                report.data_key, Attachment.__tablename__, attachment.id, _chunks(head, stream, max_bytes), out
            )
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, final)
    except _TooLarge:
        partial.unlink(missing_ok=True)
        raise PayloadTooLargeError(f"附件不能超过 {max_bytes // (1024 * 1024)} MB") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    db.session.info.setdefault(_NEW_FILES, []).append(final)
    attachment.stored_size = final.stat().st_size
    report.attachments.append(attachment)
    attachment.seal("filename_data", clean_filename(filename, content_type))
    db.session.flush()
    return attachment


def open_blob(attachment: Attachment, directory: Path) -> bytes:
    """The decrypted bytes, authenticated in full before they are returned."""
    with (directory / attachment.storage_name).open("rb") as src:
        return b"".join(
            get_vault().decrypt_stream(
                attachment.report.data_key, Attachment.__tablename__, attachment.id, src, attachment.stored_size
            )
        )
