"""The export page (``/exports/<id>``: what is being written, a progress bar, then the download link), its status
for the page's script, and the download. Only the person who asked sees an export; anyone else gets 404."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, jsonify, render_template, stream_with_context
from flask.typing import ResponseReturnValue

from app.audit import service as audit
from app.auth import permissions
from app.auth.guard import current_actor, current_user, staff_required
from app.core.db import transactional, unit_of_work
from app.core.sheets import CHUNK_BYTES, XLSX
from app.core.spool import EphemeralSpool
from app.crypto.vault import DecryptionError, get_vault
from app.errors import NotFoundError
from app.exports import kinds, service
from app.exports.models import FAILED, GONE, QUEUED, READY, RUNNING, Export

bp = Blueprint("exports", __name__, url_prefix="/exports")
log = logging.getLogger("qzbg.exports")
NOT_FOUND = "找不到该导出，或已被删除"
STATES = {QUEUED: "排队等待中", RUNNING: "正在生成", READY: "已生成，可以下载", FAILED: "生成失败", GONE: "已删除"}


def _mine(export_id: str) -> Export:
    try:
        wanted = uuid.UUID(export_id)
    except ValueError:
        raise NotFoundError(NOT_FOUND) from None
    user = current_user()
    export = service.visible(wanted, user) if user is not None else None
    kind = kinds.of(export.kind) if export is not None else None
    if export is None or kind is None or user is None or not permissions.allows(user.role, kind.permission):
        raise NotFoundError(NOT_FOUND)
    return export


def _percent(export: Export) -> int:
    if export.state in (READY, GONE):
        return 100
    if not export.total:
        return 0
    return min(99, export.done * 100 // export.total)


@bp.get("/<export_id>")
@transactional(writes=True)  # a staff request may write (session activity)
@staff_required("account")
def page(export_id: str) -> ResponseReturnValue:
    export = _mine(export_id)
    now = dt.datetime.now(dt.UTC)
    return render_template("exports/page.html", export=export, state=STATES[export.state],
                           percent=_percent(export), fetchable=service.fetchable(export, now),
                           waiting=export.state in (QUEUED, RUNNING))


@bp.get("/<export_id>/status")
@transactional(writes=True)
@staff_required("account")
def status(export_id: str) -> ResponseReturnValue:
    """The export's progress for ``progress.js``."""
    export = _mine(export_id)
    return jsonify({"state": export.state, "percent": _percent(export), "done": export.done, "total": export.total})


@bp.get("/<export_id>/download")
@transactional(writes=True)  # audited
@staff_required("account")
def download(export_id: str) -> ResponseReturnValue:
    """The workbook, authenticated whole before it is sent; deleted once all of it went out."""
    export = _mine(export_id)
    now = dt.datetime.now(dt.UTC)
    if not service.fetchable(export, now):
        raise NotFoundError("该导出文件已下载或已过期，请重新导出")
    directory = current_app.config["QZBG"].exports_dir
    # The whole file is opened and authenticated before the answer starts (into a spool encrypted under a key of
    # its own, so it never waits in clear on disk): a file swept meanwhile or changed on disk is a clear 404,
    # never half a workbook.
    spool = EphemeralSpool()
    try:
        for chunk in service.open_file(export, directory=directory, vault=get_vault()):
            spool.write(chunk)
    except (OSError, DecryptionError) as exc:
        spool.close()
        log.error("export_unreadable", extra={"export_id": str(export.id), "exception": type(exc).__name__})
        raise NotFoundError("该导出文件已无法读取，请重新导出") from None
    spool.seek(0)
    audit.record(current_actor(), "export.fetch", now=now, target_type="export", target_id=export.id)
    export_id_value = export.id

    def body() -> Iterator[bytes]:
        try:
            while chunk := spool.read(CHUNK_BYTES):
                yield chunk
        finally:
            spool.close()
        with unit_of_work():
            service.fetched(export_id_value, now=dt.datetime.now(dt.UTC), directory=directory)

    response = Response(stream_with_context(body()), mimetype=XLSX, direct_passthrough=True)
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response
