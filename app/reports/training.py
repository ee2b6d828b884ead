"""Practice reports (CONTRACT.md's ``training``): kept 7 days, then deleted with everything they carry.

``purge_training_batches(now, attachments_dir=...)`` is run by a scheduled job (one transaction per batch;
``purge_expired_training`` runs them all in the caller's, like every CLI command): it deletes the practice
reports submitted more than ``TRAINING_RETENTION`` ago, their rows (categories, timeline, attachments, transfers,
questions, referrals, outbox messages: every one goes with its report through ``ON DELETE CASCADE``), and their
data keys, which crypto-shreds whatever copy of a sealed field or blob is left anywhere (a backup taken meanwhile
cannot be opened once the key row is gone). The attachment blobs are removed
from ``QZBG_ATTACHMENTS_DIR`` once the deletion has committed, so a rollback never leaves rows without their files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.core.actor import Actor
from app.core.dbtypes import Holds
from app.crypto.models import DataKey
from app.extensions import db
from app.reports.models import Attachment, Report

log = logging.getLogger("qzbg.reports")

TRAINING_RETENTION = dt.timedelta(days=7)
BATCH = 500

# Blobs of the reports deleted in the open transaction: removed once it commits, forgotten if it rolls back.
_PURGED_BLOBS = "qzbg.purged_training_blobs"


@event.listens_for(Session, "after_commit")
def _remove_purged_blobs(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outer transaction may still roll back
    for path in session.info.pop(_PURGED_BLOBS, []):
        with contextlib.suppress(OSError):  # a read-only store: the row is gone, the blob is sealed anyway
            path.unlink(missing_ok=True)


@event.listens_for(Session, "after_soft_rollback")
def _forget_purged_blobs(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PURGED_BLOBS, None)


def expired_training(now: dt.datetime) -> Any:
    """The practice reports old enough to go (along ``ix_reports_training_submitted_at``)."""
    return select(Report.id).where(Holds(Report.training), Report.submitted_at < now - TRAINING_RETENTION)


def purge_training_batches(now: dt.datetime, *, attachments_dir: Path, batch: int = BATCH) -> Iterator[int]:
    """Delete the practice reports submitted before ``now`` - 7 days (and their blobs in ``attachments_dir``),
    ``batch`` at a time (the scheduled job commits each); yields how many each batch deleted. Real reports are
    never touched: the condition is on ``training`` first."""
    while True:
        ids = list(db.session.scalars(expired_training(now).order_by(Report.submitted_at).limit(batch)))
        purged = _purge(ids, attachments_dir, now) if ids else 0
        if purged:
            log.info("training_purged", extra={"reports": purged})
        yield purged
        if len(ids) < batch:
            return


def purge_expired_training(now: dt.datetime, *, attachments_dir: Path, batch: int = BATCH) -> int:
    """Every practice report past its 7 days deleted in the caller's transaction; returns how many went."""
    return sum(purge_training_batches(now, attachments_dir=attachments_dir, batch=batch))


def _purge(ids: list[uuid.UUID], attachments_dir: Path, now: dt.datetime) -> int:
    blobs = [attachments_dir / name for name in
             db.session.scalars(select(Attachment.storage_name).where(Attachment.report_id.in_(ids)))]
    rows = db.session.execute(select(Report.id, Report.office_id, Report.data_key_id).where(Report.id.in_(ids))).all()
    keys = [row.data_key_id for row in rows]
    # A real report closed as a duplicate of a practice one keeps its reason, not the link to a report gone.
    db.session.execute(update(Report).where(Report.merged_into_id.in_(ids)).values(merged_into_id=None)
                       .execution_options(synchronize_session=False))
    # The session forgets the deleted reports it holds (and takes them back if the transaction rolls back).
    result = db.session.execute(delete(Report).where(Report.id.in_(ids)))
    db.session.execute(delete(DataKey).where(DataKey.id.in_(keys)).execution_options(synchronize_session=False))
    for row in rows:  # each deletion on the audit chain, by the scheduled job (no personal data: the id)
        audit.record(Actor.system(), "report.purge_training", now=now, target_type="report", target_id=row.id,
                     office_id=row.office_id)
    db.session.info.setdefault(_PURGED_BLOBS, []).extend(blobs)
    return int(getattr(result, "rowcount", 0) or 0)
