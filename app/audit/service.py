"""Record audit entries in the caller's transaction; verify the whole chain.

Each entry's hash is a keyed MAC: ``HMAC(K, previous hash | canonical JSON of the entry)``, HMAC-SHA256, or
HMAC-SM3 when ``QZBG_AUDIT_HASH`` is ``sm3``; the entry names its algorithm (``alg``, inside the MAC too). K is
derived from the keyring (``app.crypto.vault.Vault.audit_mac``) and never stored in the database, so someone who
can rewrite the tables but lacks the keyring cannot make an entry verify: altering, deleting or inserting an
entry, even with every later entry re-hashed, breaks the chain at that entry, and ``flask audit verify`` names it.

What a key cannot show is a chain cut short: delete the newest entries and move the head back to an earlier one,
and what is left is still whole. The head (``SEQ:HASH``) is therefore written to the log every hour by the notify
worker (``audit.chain_head``) for the operator to keep outside the database, and ``flask audit verify --head
SEQ:HASH`` checks that a recorded head is still on the chain.

Writers lock the single chain-head row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite runs writers one at a
time), so concurrent actions still make one unbroken chain.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.audit.models import AuditEntry, AuditHead
from app.core.actor import Actor
from app.core.db import READ, intent, unit_of_work
from app.extensions import db

log = logging.getLogger("qzbg.audit")

GENESIS = "0" * 64
KEYED = ("hmac-sha256", "hmac-sm3")
# Where create_app leaves the chain's key (``ChainKey``): read here rather than passed, because ``record`` is
# called from every action (tests/test_dependencies_passed.py lists this exception).
EXTENSION = "qzbg.audit_chain"
HEAD = re.compile(r"^(\d{1,18}):([0-9a-f]{64})$")


@dataclasses.dataclass(frozen=True)
class ChainKey:
    """What the chain is keyed with: the algorithm of new entries, and the MAC (``(algorithm, message) -> tag``;
    the key itself stays in the vault)."""

    algorithm: str
    mac: Callable[[str, bytes], bytes]


@dataclasses.dataclass(frozen=True)
class Head:
    """A chain head as the log line and ``verify`` print it: ``SEQ:HASH``."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        match = HEAD.match(text.strip().lower())
        if match is None:
            raise ValueError("a chain head is SEQ:HASH, e.g. 1234:<64 hex digits>")
        return cls(int(match.group(1)), match.group(2))


def chain_key() -> ChainKey:
    key: ChainKey | None = current_app.extensions.get(EXTENSION)
    if key is None:
        raise RuntimeError("the audit chain key is not available: this app was built without a keyring")
    return key


def canonical(entry: AuditEntry) -> bytes:
    """The entry's fields as JSON with sorted keys and no spaces: what its hash covers besides the hash before."""
    return json.dumps({
        "seq": entry.seq, "at": entry.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_id": str(entry.actor_id) if entry.actor_id else None, "actor_role": entry.actor_role,
        "office_id": entry.office_id, "action": entry.action, "target_type": entry.target_type,
        "target_id": entry.target_id, "ip": entry.ip, "request_id": entry.request_id, "alg": entry.alg,
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(prev_hash: str, entry: AuditEntry, key: ChainKey | None = None) -> str:
    """``entry``'s hash under its own algorithm (``entry.alg``) and the chain's key; ``KeyError`` for an
    algorithm that is not a keyed one."""
    if entry.alg not in KEYED:
        raise KeyError(entry.alg)
    key = key or chain_key()
    return key.mac(entry.alg, prev_hash.encode("ascii") + b"|" + canonical(entry)).hex()


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
    key = chain_key()
    head = _head()
    entry = AuditEntry(
        seq=head.seq + 1, at=now, actor_id=actor.id if actor else None, actor_role=actor.role if actor else None,
        office_id=office_id if office_id is not None else (actor.office_id if actor else None), action=action,
        target_type=target_type, target_id=str(target_id)[:64] if target_id is not None else None,
        ip=actor.ip if actor else None, request_id=actor.request_id if actor else None, prev_hash=head.hash,
        alg=key.algorithm,
    )
    entry.hash = entry_hash(head.hash, entry, key)
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


def verify(batch: int = 1000, *, recorded: Head | None = None) -> Verdict:
    """Walk the chain in order up to the head read first (entries appended meanwhile are for the next check);
    the first entry that does not follow from the one before is named. With ``recorded`` (a head kept outside
    the database), the chain must also still hold that entry with that hash: a chain cut short, or rewritten by
    someone holding the key, fails there. Reads only: on SQLite it takes no write lock, so intake goes on while a
    long chain is checked."""
    with intent(READ):
        return _verify(batch, recorded)


def _verify(batch: int, recorded: Head | None) -> Verdict:
    key = chain_key()
    head = db.session.get(AuditHead, 1)
    first = db.session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq).limit(1))
    if head is None:
        return Verdict(first is None, 0, first, None if first is None else "head missing")
    prev_hash, expected_seq, checked, last_seq = GENESIS, 1, 0, 0
    recorded_found: str | None = None
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
            if entry.alg not in KEYED:
                return Verdict(False, checked, entry.seq, f"not keyed (algorithm {entry.alg!r})")
            if entry_hash(prev_hash, entry, key) != entry.hash:
                return Verdict(False, checked, entry.seq, "altered")
            if recorded is not None and entry.seq == recorded.seq:
                recorded_found = entry.hash
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
    if recorded is not None and recorded.seq > 0:
        if recorded.seq > last_seq:
            return Verdict(False, checked, last_seq + 1,
                           f"missing: the chain ends at entry {last_seq}, before the recorded head {recorded.seq}")
        if recorded_found != recorded.hash:
            return Verdict(False, checked, recorded.seq, "differs from the recorded head: the chain was rewritten")
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
    """Write the chain head to the log (``head`` is ``SEQ:HASH``, what ``flask audit verify --head`` takes), so a
    copy kept outside the database can later show the chain was not cut short or rewritten."""
    with unit_of_work():
        head = chain_head()
    log.info("audit.chain_head", extra={"seq": head.seq, "hash": head.hash, "head": str(head)})


def chain_head() -> Head:
    head = db.session.get(AuditHead, 1)
    return Head(head.seq, head.hash) if head else Head(0, GENESIS)
