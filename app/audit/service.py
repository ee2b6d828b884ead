"""Record audit entries in the caller's transaction; verify the whole chain.

Each entry's hash is H(previous hash || canonical JSON of the entry), H being
SHA-256, or SM3 when ``QZBG_BLIND_INDEX`` is ``hmac-sm3`` (the national family).
Writers lock the single chain-head row (``SELECT ... FOR UPDATE`` on PostgreSQL;
SQLite runs writers one at a time), so concurrent actions still make one
unbroken chain. Altering, deleting or inserting an entry breaks the chain at
that entry, and ``flask audit verify`` names it; an outside copy of the head
(logged hourly by the worker) shows whether the whole table was rewritten.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from typing import Any

from cryptography.hazmat.primitives import hashes
from flask import current_app
from sqlalchemy import select

from app.audit.models import AuditEntry, AuditHead
from app.core.actor import Actor
from app.core.db import READ, intent, unit_of_work
from app.extensions import db

log = logging.getLogger("qzbg.audit")

GENESIS = "0" * 64


def _algorithm() -> hashes.HashAlgorithm:
    return hashes.SM3() if current_app.config["QZBG"].blind_index == "hmac-sm3" else hashes.SHA256()


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    body = json.dumps({
        "seq": entry.seq, "at": entry.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_id": str(entry.actor_id) if entry.actor_id else None, "actor_role": entry.actor_role,
        "office_id": entry.office_id, "action": entry.action, "target_type": entry.target_type,
        "target_id": entry.target_id, "ip": entry.ip, "request_id": entry.request_id,
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashes.Hash(_algorithm())
    digest.update(prev_hash.encode("ascii") + b"|" + body.encode("utf-8"))
    return digest.finalize().hex()


def _head() -> AuditHead:
    """The chain head, locked for this transaction. ``FOR UPDATE`` on PostgreSQL; on SQLite the same clause makes
    the transaction take the write lock before it reads (app.core.db), so two writers never read one head."""
    head = db.session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()).one_or_none()
    if head is None:
        if db.session.scalar(select(AuditEntry.seq).limit(1)) is not None:
            raise RuntimeError("the audit chain head is missing while entries exist: run flask audit verify")
        head = AuditHead(id=1, seq=0, hash=GENESIS)  # the migration makes it; an emptied test database may not
        db.session.add(head)
        db.session.flush()
    return head


def record(
    actor: Actor | None, action: str, *, now: dt.datetime, target_type: str | None = None,
    target_id: Any = None, office_id: int | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (it commits or rolls back with the action)."""
    head = _head()
    entry = AuditEntry(
        seq=head.seq + 1, at=now, actor_id=actor.id if actor else None, actor_role=actor.role if actor else None,
        office_id=office_id if office_id is not None else (actor.office_id if actor else None), action=action,
        target_type=target_type, target_id=str(target_id)[:64] if target_id is not None else None,
        ip=actor.ip if actor else None, request_id=actor.request_id if actor else None, prev_hash=head.hash,
    )
    entry.hash = entry_hash(head.hash, entry)
    db.session.add(entry)
    head.seq, head.hash = entry.seq, entry.hash
    db.session.flush()
    return entry


@dataclasses.dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    bad_seq: int | None = None
    reason: str | None = None


def verify(batch: int = 1000) -> Verdict:
    """Walk the chain in order up to the head read first (entries appended meanwhile are for the next check);
    the first entry that does not follow from the one before is named. Reads only: on SQLite it takes no
    write lock, so intake goes on while a long chain is checked."""
    with intent(READ):
        return _verify(batch)


def _verify(batch: int) -> Verdict:
    head = db.session.get(AuditHead, 1)
    first = db.session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq).limit(1))
    if head is None:
        return Verdict(first is None, 0, first, None if first is None else "head missing")
    prev_hash, expected_seq, checked, last_seq = GENESIS, 1, 0, 0
    while True:
        entries = list(db.session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last_seq, AuditEntry.seq <= head.seq)
            .order_by(AuditEntry.seq).limit(batch)
        ))
        if not entries:
            break
        for entry in entries:
            if entry.seq != expected_seq:
                return Verdict(False, checked, expected_seq, "missing" if entry.seq > expected_seq else "out of order")
            if entry.prev_hash != prev_hash:
                return Verdict(False, checked, entry.seq, "does not follow the entry before")
            if entry_hash(prev_hash, entry) != entry.hash:
                return Verdict(False, checked, entry.seq, "altered")
            prev_hash, expected_seq, checked, last_seq = entry.hash, entry.seq + 1, checked + 1, entry.seq
        db.session.expunge_all()
    if (head.seq, head.hash) != (last_seq, prev_hash):
        return Verdict(False, checked, last_seq + 1 if head.seq > last_seq else last_seq, "head does not match")
    beyond = db.session.scalar(select(AuditEntry.seq).where(AuditEntry.seq > head.seq).order_by(AuditEntry.seq)
                               .limit(1))
    if beyond is not None and db.session.get(AuditHead, 1) is not None:
        db.session.expire_all()
        current = db.session.get(AuditHead, 1)
        if current is not None and current.seq < beyond:
            return Verdict(False, checked, beyond, "an entry beyond the head")
    return Verdict(True, checked)


def record_command(action: str, *, now: dt.datetime, target_type: str | None = None, target_id: Any = None,
                   office_id: int | None = None) -> None:
    """Audit an operator's command (``flask ...``: keys, imports, offices) in a transaction of its own."""
    with unit_of_work():
        record(Actor.system(), action, now=now, target_type=target_type, target_id=target_id, office_id=office_id)


def log_chain_head_job(now: dt.datetime) -> None:
    """The scheduled job (hourly, app.notify.jobs.REGISTRY): the chain head to the log."""
    log_chain_head()


def log_chain_head() -> None:
    """Write the chain head to the log, so a copy outside the database can later prove the table unrewritten."""
    with unit_of_work():
        seq, digest = chain_head()
    log.info("audit.chain_head", extra={"seq": seq, "hash": digest})


def chain_head() -> tuple[int, str]:
    head = db.session.get(AuditHead, 1)
    return (head.seq, head.hash) if head else (0, GENESIS)
