"""Attachments: recognised from their bytes, size-checked while streaming, sealed on disk.

Files live under ``QZBG_ATTACHMENTS_DIR`` with random names; the original name
is a sealed column. The blob is AEAD-sealed with the report's data key, bound
to the attachment row, so a blob swapped between rows fails to open.

Photos (JPEG, PNG, WebP, HEIC) lose their metadata before they are sealed
(``app.reports.photos``: GPS position, capture time, device and owner names,
embedded previews), and are turned upright first when EXIF said they were
turned. A file that claims to be an image and does not decode is refused.

Evidence: ``original_sha256`` is the SHA-256 of the bytes exactly as uploaded,
before any cleaning. **No sealed original is kept**, on purpose:

- This service is the reporting channel, not the evidence seizure. Electronic
  evidence is taken by the police from the original medium (the reporter's
  phone or camera) with its hash recorded (the 2016 rules of the Supreme
  People's Court, Supreme People's Procuratorate and Ministry of Public
  Security on electronic data); the digest recorded here, at the moment of
  reporting, proves that the file they take is the very file that was
  reported, metadata included, and that it was not altered since.
- The picture itself is not degraded: JPEG, PNG and WebP are filtered
  losslessly (the pixel data stay byte for byte as taken); only a turned photo
  or a HEIC is re-encoded, at high quality.
- The metadata are what the fix exists to remove: a GPS position points to a
  child's home or school, owner and device names to the reporter. A sealed
  original would keep them in the store for every future reader of the report
  while no prosecutor's workflow reads them (none exists yet; none is in
  CONTRACT.md). Personal information is kept only as far as needed (PIPL
  art. 6, and stricter for minors).

If prosecutors come to need the originals, storing them is a forward change:
a second blob sealed the same way, behind a role that only they hold; the
digests recorded from now on let them check any original handed in later.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import logging
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
from app.crypto.vault import Vault
from app.errors import ConflictError, PayloadTooLargeError, ServiceUnavailableError, ValidationError
from app.extensions import db
from app.reports import photos
from app.reports.models import Attachment, Report
from app.reports.records import Question

log = logging.getLogger("qzbg.attachments")

MAX_PER_REPORT = 9
UNSUPPORTED_TYPE = "不支持的文件类型：仅接受 JPEG、PNG、WebP、HEIC 图片，MP4 视频，MP3、M4A、AAC、AMR 音频和 PDF"
UNDECODABLE_IMAGE = "文件无法作为图片打开，可能已损坏或并非图片，请重新选择"
TOO_MANY_PIXELS = f"图片像素过多（超过 {photos.MAX_PIXELS // 1_000_000} 百万像素），请缩小后重新上传"
CHUNK = 64 * 1024
# Reporter-visible statuses submitted/received: the report is not yet with the police. Later (but before it is
# closed) files are taken while a question of the office waits for its answer (CONTRACT.md).
OPEN_FOR_UPLOAD = ("new", "reviewing")
CLOSED = "closed"


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


def _hashed(chunks: Iterator[bytes], digest: Any) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def _cleaned_photo(content_type: str, original: bytes) -> Iterator[bytes]:
    try:
        cleaned = photos.strip_metadata(content_type, original)
    except photos.TooManyPixels:
        raise ValidationError(fields={"file": [TOO_MANY_PIXELS]}) from None
    except photos.Undecodable:
        raise ValidationError(fields={"file": [UNDECODABLE_IMAGE]}) from None
    return (cleaned[i : i + CHUNK] for i in range(0, len(cleaned), CHUNK))


def store(
    report: Report,
    stream: BinaryIO,
    filename: str | None,
    *,
    directory: Path,
    max_bytes: int,
    now: dt.datetime,
    vault: Vault,
) -> Attachment:
    """Seal one upload to disk and add its row; nothing stays behind when it is refused.

    The report row is locked first, so parallel uploads cannot pass the limit or
    land after the report moved on. A photo is read whole (at most ``max_bytes``)
    to take its metadata off; other files stream through. A store that cannot
    be written (full, read-only, gone) raises ``ServiceUnavailableError``, with
    no blob and no row left.
    """
    db.session.refresh(report, attribute_names=["status", "version"], with_for_update=True)
    if report.status not in OPEN_FOR_UPLOAD and (report.status == CLOSED or not _question_open(report)):
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
    too_large = PayloadTooLargeError(f"附件不能超过 {max_bytes // (1024 * 1024)} MB")
    digest = hashlib.sha256()
    if content_type in photos.IMAGE_TYPES:
        try:
            original = b"".join(_hashed(_chunks(head, stream, max_bytes), digest))
        except _TooLarge:
            raise too_large from None
        chunks = _cleaned_photo(content_type, original)
        del original
    else:
        chunks = _hashed(_chunks(head, stream, max_bytes), digest)
    attachment = Attachment(
        id=uuid.uuid4(), report_id=report.id, storage_name=secrets.token_hex(16), content_type=content_type,
        created_at=now,
    )
    final = directory / attachment.storage_name
    partial = directory / f".{attachment.storage_name}.part"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with partial.open("xb") as out:
            attachment.size = vault.encrypt_stream(
                report.data_key, Attachment.__tablename__, attachment.id, chunks, out
            )
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, final)
        stored_size = final.stat().st_size
    except _TooLarge:
        _remove(partial)
        raise too_large from None
    except OSError as exc:
        _remove(partial)
        _remove(final)
        # The errno only (ENOSPC, EROFS, EACCES...): paths and messages stay out of the logs.
        log.error("attachment_store_unwritable", extra={"errno": errno.errorcode.get(exc.errno or 0, "unknown")})
        raise ServiceUnavailableError("附件暂时无法保存，请稍后再试") from None
    except BaseException:
        _remove(partial)
        raise
    db.session.info.setdefault(_NEW_FILES, []).append(final)
    attachment.stored_size = stored_size
    attachment.original_sha256 = digest.hexdigest()
    report.attachments.append(attachment)
    attachment.seal("filename_data", clean_filename(filename, content_type))
    db.session.flush()
    return attachment


def _question_open(report: Report) -> bool:
    """The office asked the reporter something (补充材料) that is not answered yet."""
    waiting = select(Question.id).where(Question.report_id == report.id, Question.answered_at.is_(None))
    return bool(db.session.scalar(select(waiting.exists())))


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):  # a read-only store may refuse even that
        path.unlink(missing_ok=True)


def open_blob(attachment: Attachment, directory: Path, vault: Vault) -> bytes:
    """The decrypted bytes, authenticated in full before they are returned."""
    with (directory / attachment.storage_name).open("rb") as src:
        return b"".join(
            vault.decrypt_stream(
                attachment.report.data_key, Attachment.__tablename__, attachment.id, src, attachment.stored_size
            )
        )
