"""The chain resists rewriting: someone who can write the tables but lacks the keyring cannot make a rewritten chain
verify, and a chain cut short is caught against a head recorded outside the database (``verify --head``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, insert, select, update

from app.audit import service as audit
from app.audit.models import AuditEntry, AuditHead
from app.crypto import keyfile
from app.crypto.keyfile import Keyring
from app.crypto.vault import Vault
from app.extensions import db
from tests.audit.test_audit import OUTSIDER, write

COLUMNS = ("seq", "at", "actor_id", "actor_role", "office_id", "action", "target_type", "target_id", "ip",
           "request_id", "alg")


def unkeyed(prev_hash: str, entry: Any) -> str:
    """The chain's hash as it was before it was keyed: anyone could compute it."""
    return hashlib.sha256(prev_hash.encode("ascii") + b"|" + audit.canonical(entry)).hexdigest()


def rewrite(keep: Callable[[list[AuditEntry]], list[AuditEntry]], new_hash: Callable[[str, Any], str]) -> None:
    """What a writer of the tables does: every entry read, the list changed by ``keep``, renumbered from 1 and
    chained again with ``new_hash``, the table emptied and written back, the head moved to the new last entry."""
    entries = keep(list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq))))
    rows, prev = [], audit.GENESIS
    for seq, entry in enumerate(entries, start=1):
        row = {name: getattr(entry, name) for name in COLUMNS} | {"seq": seq}
        shaped = AuditEntry(**row)
        row["prev_hash"], row["hash"] = prev, new_hash(prev, shaped)
        rows.append(row)
        prev = row["hash"]
    db.session.expunge_all()
    db.session.execute(delete(AuditEntry))
    db.session.execute(insert(AuditEntry), rows)
    db.session.execute(update(AuditHead).values(seq=len(rows), hash=prev))
    db.session.commit()


def without(seq: int) -> Callable[[list[AuditEntry]], list[AuditEntry]]:
    return lambda entries: [e for e in entries if e.seq != seq]


def from_the_gap(gap: int, new_hash: Callable[[str, Any], str]) -> Callable[[str, Any], str]:
    """Entries before the removed one keep their stored hashes; from there on ``new_hash``."""
    stored = {e.seq: e.hash for e in db.session.scalars(select(AuditEntry))}
    return lambda prev, entry: stored[entry.seq] if entry.seq < gap else new_hash(prev, entry)


@pytest.mark.parametrize("how", ["unkeyed", "the app's function under another key"])
def test_removing_an_entry_and_rehashing_the_rest_without_the_key_fails_naming_that_entry(app, runner, how):
    """The writer has the code (the canonical form, ``audit.entry_hash``) but not this deployment's keyring."""
    write(5)
    new_hash = unkeyed if how == "unkeyed" else (lambda prev, entry: audit.entry_hash(prev, entry, OUTSIDER))
    rewrite(without(3), from_the_gap(3, new_hash))
    verdict = audit.verify()
    assert (verdict.ok, verdict.bad_seq, verdict.reason) == (False, 3, "altered")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "audit chain broken at entry 3: altered" in result.output


def test_a_chain_rehashed_from_its_first_entry_without_the_key_fails_at_entry_1(app, runner):
    write(4)
    rewrite(without(2), unkeyed)
    assert (audit.verify().ok, audit.verify().bad_seq) == (False, 1)
    assert "audit chain broken at entry 1" in runner.invoke(args=["audit", "verify"]).output


def test_entries_relabelled_as_unkeyed_are_refused(app):
    write(3)

    def relabel(entries: list[AuditEntry]) -> list[AuditEntry]:
        for entry in entries[1:]:
            entry.alg = "sha256"
        return entries

    rewrite(relabel, from_the_gap(2, unkeyed))
    verdict = audit.verify()
    assert (verdict.ok, verdict.bad_seq, verdict.reason) == (False, 2, "not keyed (algorithm 'sha256')")


def test_a_cut_tail_with_the_head_moved_back_passes_alone_but_fails_against_the_recorded_head(app, runner):
    write(5)
    recorded = audit.chain_head()
    third = db.session.get(AuditEntry, 3)
    db.session.execute(delete(AuditEntry).where(AuditEntry.seq > 3))
    db.session.execute(update(AuditHead).values(seq=3, hash=third.hash))
    db.session.commit()
    assert audit.verify().ok  # what is left is whole: only a head kept elsewhere shows the cut
    verdict = audit.verify(recorded=recorded)
    assert (verdict.ok, verdict.bad_seq) == (False, 4)
    assert "the chain ends at entry 3, before the recorded head 5" in (verdict.reason or "")
    result = runner.invoke(args=["audit", "verify", "--head", str(recorded)])
    assert result.exit_code == 1
    assert "audit chain broken at entry 4" in result.output


def test_a_recorded_head_still_on_the_chain_passes_and_a_rewrite_with_the_key_is_caught_by_it(app, runner):
    write(3)
    recorded = audit.chain_head()
    write(2)
    result = runner.invoke(args=["audit", "verify", "--head", str(recorded)])
    assert result.exit_code == 0, result.output
    assert "the recorded head 3 is on it" in result.output
    # Someone holding the keyring itself removes entry 2 and re-keys everything: whole, yet not the recorded chain.
    rewrite(without(2), lambda prev, entry: audit.entry_hash(prev, entry))
    assert audit.verify().ok
    verdict = audit.verify(recorded=recorded)
    assert (verdict.ok, verdict.bad_seq) == (False, 3)
    assert runner.invoke(args=["audit", "verify", "--head", str(recorded)]).exit_code == 1


@pytest.mark.parametrize("value", ["3", "3:xyz", f"-1:{'a' * 64}", f"3:{'a' * 63}"])
def test_a_malformed_recorded_head_is_a_usage_error(app, runner, value):
    result = runner.invoke(args=["audit", "verify", "--head", value])
    assert result.exit_code == 2
    assert "SEQ:HASH" in result.output


def test_changing_the_chain_algorithm_leaves_older_entries_verifiable(make_app):
    make_app()  # HMAC-SHA256, the default
    write(2)
    sm3_app = make_app(audit_hash="sm3")
    with sm3_app.app_context():
        write(2)
        assert [e.alg for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq))] == [
            "hmac-sha256", "hmac-sha256", "hmac-sm3", "hmac-sm3"]
        assert audit.verify().ok
        db.session.remove()
    assert audit.verify().ok


def test_without_the_keyring_nothing_is_recorded_or_verified(app):
    from flask import current_app

    key = current_app.extensions.pop(audit.EXTENSION)
    try:
        with pytest.raises(RuntimeError, match="audit chain key"):
            audit.record(None, "report.view", now=dt.datetime.now(dt.UTC))
        with pytest.raises(RuntimeError, match="audit chain key"):
            audit.verify()
    finally:
        current_app.extensions[audit.EXTENSION] = key


# The chain format an outside verifier implements (docs/operations.md, "Audit log"), written out here as bytes
# rather than computed the way the service does: HMAC(K, previous hash | the entry's fields as JSON with sorted keys
# and no spaces), K = HKDF(the same hash, the keyring's blind-index key, info "qzbg/audit-chain", 32 bytes).
FIXED_ENTRY = {
    "seq": 7, "at": dt.datetime(2026, 12, 1, 8, 30, 0, 123456, tzinfo=dt.UTC),
    "actor_id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "actor_role": "prosecutor", "office_id": 1,
    "action": "report.view", "target_type": "report", "target_id": "abc", "ip": "10.0.0.7", "request_id": "req-1",
}
FIXED_BYTES = (
    b'{"action":"report.view","actor_id":"12345678-1234-5678-1234-567812345678","actor_role":"prosecutor",'
    b'"alg":"%s","at":"2026-12-01T08:30:00.123456+00:00","ip":"10.0.0.7","office_id":1,"request_id":"req-1",'
    b'"seq":7,"target_id":"abc","target_type":"report"}'
)
BLIND_INDEX_KEY = bytes(range(32))


@pytest.mark.parametrize(("alg", "hash_name"), [("hmac-sha256", "SHA256"), ("hmac-sm3", "SM3")])
def test_the_chain_format_is_an_hmac_under_a_key_derived_from_the_keyring(alg, hash_name):
    from cryptography.hazmat.primitives import hmac as chmac

    ring = keyfile.generate()
    vault = Vault(Keyring(ring.current, ring.keks, BLIND_INDEX_KEY), "aes-256-gcm", "hmac-sha256")
    entry = AuditEntry(**FIXED_ENTRY, alg=alg)
    body = FIXED_BYTES % alg.encode()
    assert audit.canonical(entry) == body
    algorithm = getattr(hashes, hash_name)
    key = HKDF(algorithm=algorithm(), length=32, salt=None, info=b"qzbg/audit-chain").derive(BLIND_INDEX_KEY)
    mac = chmac.HMAC(key, algorithm())
    mac.update(audit.GENESIS.encode("ascii") + b"|" + body)
    expected = mac.finalize().hex()
    assert audit.entry_hash(audit.GENESIS, entry, audit.ChainKey(alg, vault.audit_mac)) == expected
    if hash_name == "SHA256":  # and as any HMAC library computes it
        assert expected == hmac.new(key, audit.GENESIS.encode() + b"|" + body, hashlib.sha256).hexdigest()
