"""Files chosen in a web form that came back with errors: kept, sealed and tied to that form, until it is stored.

A browser never re-sends a file input after the page is rendered again, so the
uploads of a refused form are staged instead of dropped. Each one is sealed
(AEAD, streaming, the configured field cipher) under a random key made for that
one form and kept only in the submitting browser's session, itself sealed there
like the 查询码: without that browser's cookie nobody, the server included, can
open them. They wait in ``<attachments dir>/.staged/<sha256(form key)>/``, are
listed in the re-rendered form with a checkbox to remove each, become real
attachments (metadata stripped, hashed) when the form is finally stored, and are
purged ``STAGED_TTL`` after the form's last change.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import secrets
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from app.core.fields import clean_text
from app.core.sniff import SNIFF_BYTES, sniff
from app.core.spool import EphemeralSpool
from app.crypto import cipher
from app.errors import ValidationError
from app.reports import receipts
from app.reports.attachments import MAX_PER_REPORT, UNSUPPORTED_TYPE, clean_filename

STAGED_TTL = 6 * 3600  # seconds staged files wait after the form's last change
STAGED_FORMS = 3  # forms per session that keep staged files (each with its key)
# Anyone can post a refused form, so staging is bounded: all forms' staged files together, and the free
# space it must leave for real attachments. Past either, a file is not kept and must be chosen again.
STAGED_AREA_BYTES = 2 * 1024**3
FREE_SPACE_RESERVE = 1024**3
STAGED_DIR = ".staged"
SESSION_KEY = "staged_keys"
FILE_ID = re.compile(r"^[0-9a-f]{32}$")
_KEY_ID = uuid.UUID(int=0)  # the header's key id: the key is the form's, in no keyring
CHUNK = 64 * 1024


@dataclasses.dataclass(frozen=True)
class StagedFile:
    id: str
    name: str
    content_type: str
    size: int
    at: int  # nanoseconds since the epoch: files are listed in the order they were chosen

    @property
    def size_label(self) -> str:
        return f"{self.size / (1024 * 1024):.1f} MB" if self.size >= 1024 * 1024 else f"{max(1, self.size // 1024)} KB"


class _Refused(Exception):
    """An upload that cannot become an attachment; the message is shown beside the files field."""


def _form_id(form_key: str) -> str:
    return hashlib.sha256(form_key.encode()).hexdigest()


def _form_dir(directory: Path, form_key: str) -> Path:
    return directory / STAGED_DIR / _form_id(form_key)


def _aad(form_key: str, file_id: str, part: str) -> bytes:
    """Binds each ciphertext to its form, file and part: a blob moved to another form or file fails to open."""
    return f"qzbg/staged/{_form_id(form_key)}/{file_id}/{part}".encode()


def _key(session: Any, form_key: str, *, create: bool) -> bytes | None:
    """This form's staging key from the session; with ``create``, made when missing and its age renewed."""
    keys = dict(session.get(SESSION_KEY) or {})
    opened = receipts.unseal(keys.get(form_key), ttl=STAGED_TTL)
    key = base64.urlsafe_b64decode(opened) if opened else None
    if not create:
        return key
    key = key or os.urandom(32)
    keys.pop(form_key, None)
    while len(keys) >= STAGED_FORMS:
        keys.pop(next(iter(keys)))
    keys[form_key] = receipts.seal(base64.urlsafe_b64encode(key).decode())
    session[SESSION_KEY] = keys
    return key


def display_name(filename: str | None) -> str:
    base = clean_text(os.path.basename((filename or "").replace("\\", "/")), multiline=False)[:100]
    return base or "附件"


def _chunks(head: bytes, stream: BinaryIO, limit: int, max_mb: int) -> Iterator[bytes]:
    total = len(head)
    chunk = head
    while chunk:
        if total > limit:
            raise _Refused(f"附件不能超过 {max_mb} MB")
        yield chunk
        chunk = stream.read(CHUNK)
        total += len(chunk)


def _write_atomically(path: Path, chunks: Iterable[bytes] | None = None, *, seal: Any = None) -> int:
    """Write to a hidden partial file, then rename; nothing half-written stays behind."""
    partial = path.with_name(f".{path.name}.part")
    try:
        with partial.open("xb") as out:
            written = seal(out) if seal else sum(out.write(c) for c in chunks or ())
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return int(written)


def _stage_one(key: bytes, form_key: str, target: Path, upload: Any, max_bytes: int, cipher_name: str) -> None:
    stream = upload.stream
    with contextlib.suppress(OSError, ValueError, AttributeError):
        stream.seek(0)  # a refused store may have read part of it
    head = stream.read(SNIFF_BYTES)
    if not head:
        raise _Refused("文件为空，请重新选择")
    content_type = sniff(head)
    if content_type is None:
        raise _Refused(UNSUPPORTED_TYPE)
    file_id = secrets.token_hex(16)
    max_mb = max_bytes // (1024 * 1024)
    size = _write_atomically(
        target / f"{file_id}.blob",
        seal=lambda out: cipher.seal_stream(
            cipher_name, key, _KEY_ID, _chunks(head, stream, max_bytes, max_mb), out,
            _aad(form_key, file_id, "blob"),
        ),
    )
    meta = {"name": clean_filename(upload.filename, content_type), "type": content_type, "size": size,
            "at": time.time_ns()}
    sealed = cipher.seal(cipher_name, key, _KEY_ID, json.dumps(meta).encode(), _aad(form_key, file_id, "meta"))
    _write_atomically(target / f"{file_id}.meta", [sealed])


def stage(session: Any, form_key: str, uploads: list[Any], *, directory: Path, max_bytes: int, cipher_name: str,
          ) -> list[str]:
    """Stage every acceptable upload for this form, sealed with ``cipher_name`` (``QZBG_FIELD_CIPHER``); the
    messages for those refused (type, size, count).

    A store that cannot be written raises OSError: the caller says the files must be chosen again.
    """
    if not uploads:
        return []
    purge(directory)
    key = _key(session, form_key, create=True)
    assert key is not None
    target = _form_dir(directory, form_key)
    target.mkdir(parents=True, exist_ok=True)
    count = len(listed(session, form_key, directory))
    room = _room(directory)
    messages: list[str] = []
    for upload in uploads:
        name = display_name(upload.filename)
        if count >= MAX_PER_REPORT:
            messages.append(f"{name}：每份报告最多上传{MAX_PER_REPORT}个附件")
            continue
        size = _upload_size(upload)
        if size > room:
            messages.append(f"{name}：暂时无法保存，请改正后重新选择这个文件")
            continue
        room -= size
        try:
            _stage_one(key, form_key, target, upload, max_bytes, cipher_name)
        except _Refused as exc:
            messages.append(f"{name}：{exc}")
        else:
            count += 1
    os.utime(target)  # the form's last change: purged STAGED_TTL after it
    return messages


def _room(directory: Path) -> int:
    """Bytes staging may still take: under its own cap, and leaving the reserve free for attachments."""
    used = 0
    with contextlib.suppress(OSError):
        for form_dir in os.scandir(directory / STAGED_DIR):
            with contextlib.suppress(OSError):
                used += sum(f.stat().st_size for f in os.scandir(form_dir.path) if f.is_file())
    free = shutil.disk_usage(directory).free - FREE_SPACE_RESERVE
    return max(0, min(STAGED_AREA_BYTES - used, free))


def _upload_size(upload: Any) -> int:
    stream = upload.stream
    try:
        size = int(stream.seek(0, os.SEEK_END))
        stream.seek(0)
    except (OSError, ValueError, AttributeError):
        return 0  # not seekable: the size limit while staging still holds
    return size


def listed(session: Any, form_key: str, directory: Path) -> list[StagedFile]:
    """The files staged for this form that this browser's key opens, in the order they were chosen."""
    key = _key(session, form_key, create=False)
    target = _form_dir(directory, form_key)
    if key is None or not target.is_dir():
        return []
    found = []
    for meta_path in target.glob("*.meta"):
        file_id = meta_path.stem
        if not FILE_ID.match(file_id) or not (target / f"{file_id}.blob").is_file():
            continue
        try:
            meta = json.loads(cipher.open_(key, meta_path.read_bytes(), _aad(form_key, file_id, "meta")))
            found.append(StagedFile(file_id, str(meta["name"]), str(meta["type"]), int(meta["size"]), int(meta["at"])))
        except (OSError, ValueError, KeyError, TypeError, cipher.DecryptionError):
            continue  # another browser's, or damaged: never shown, purged with the form
    return sorted(found, key=lambda f: (f.at, f.id))


def remove(session: Any, form_key: str, directory: Path, file_ids: Iterable[str]) -> None:
    """Remove the staged files the person unticked (only this browser's own)."""
    wanted = {i for i in file_ids if FILE_ID.match(i)}
    target = _form_dir(directory, form_key)
    for staged in listed(session, form_key, directory) if wanted else []:
        if staged.id in wanted:
            for part in ("meta", "blob"):
                with contextlib.suppress(OSError):
                    (target / f"{staged.id}.{part}").unlink(missing_ok=True)


@contextlib.contextmanager
def opened(session: Any, form_key: str, directory: Path, staged: StagedFile) -> Iterator[BinaryIO]:
    """The staged file's bytes, authenticated in full first, in an encrypted spool (never in clear on disk)."""
    key = _key(session, form_key, create=False)
    path = _form_dir(directory, form_key) / f"{staged.id}.blob"
    spool = EphemeralSpool()
    try:
        try:
            if key is None:
                raise cipher.DecryptionError("no key")
            with path.open("rb") as src:
                size = path.stat().st_size
                for chunk in cipher.open_stream(key, src, size, _aad(form_key, staged.id, "blob"), CHUNK):
                    spool.write(chunk)
        except (FileNotFoundError, cipher.DecryptionError):
            raise ValidationError(fields={"file": ["暂存的附件已失效，请重新选择"]}) from None
        spool.seek(0)
        yield spool  # type: ignore[misc]  # an io.RawIOBase reads like a binary file
    finally:
        spool.close()


def discard(session: Any, form_key: str, directory: Path) -> None:
    """The form was stored: its staged files and their key go."""
    keys = dict(session.get(SESSION_KEY) or {})
    if keys.pop(form_key, None) is not None:
        session[SESSION_KEY] = keys
    shutil.rmtree(_form_dir(directory, form_key), ignore_errors=True)
    purge(directory)


def purge(directory: Path, *, now: float | None = None) -> int:
    """Remove the staged files of forms untouched for ``STAGED_TTL``; how many forms went."""
    root = directory / STAGED_DIR
    cutoff = (time.time() if now is None else now) - STAGED_TTL
    gone = 0
    with contextlib.suppress(OSError):
        for form_dir in root.iterdir():
            with contextlib.suppress(OSError):
                if form_dir.is_dir() and form_dir.stat().st_mtime < cutoff:
                    shutil.rmtree(form_dir, ignore_errors=True)
                    gone += 1
    return gone
