"""the audit chain is keyed: each entry's hash becomes an HMAC under a key from the keyring, and names its algorithm

Revision ID: 0013_audit_keyed_chain
Revises: 0012_setup_links
Create Date: 2026-12-07 18:00:00

Until now an entry's hash was a plain SHA-256 (SM3 with QZBG_BLIND_INDEX=hmac-sm3) that anyone could recompute, so
whoever could write the table could remove an entry and re-hash the rest. From here on it is an HMAC under a key
derived from the keyring (``Vault.audit_mac``), and a new column ``alg`` names it per entry (``hmac-sha256`` or
``hmac-sm3``, from QZBG_AUDIT_HASH) so that changing the setting later leaves older entries verifiable.

Upgrade, in one transaction:
1. check the existing (unkeyed) chain exactly as ``flask audit verify`` did; a broken chain stops the upgrade
   with the first bad entry named and nothing changed, so that re-keying never covers up an alteration;
2. re-key every entry in order (new hash and ``prev_hash``; nothing else of an entry changes) and move the head;
3. when there were entries, append one more, ``audit.chain_keyed`` (a system entry), whose target is the last
   unkeyed head hash: a head line logged before the upgrade is checked against it (docs/operations.md).
The old and new heads are written to the migration's log.

Downgrade checks the keyed chain the same way and re-hashes it unkeyed, as the code of 0012 expects.

Self-contained on purpose: the canonical form below is the chain format as of this revision; the key derivation is
the vault's (it must never change, or every chain stops verifying).
"""
import datetime as dt
import json
import logging
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives import hashes
from flask import current_app

from app.core.dbtypes import UTCDateTime

# revision identifiers, used by Alembic.
revision = '0013_audit_keyed_chain'
down_revision = '0012_setup_links'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
GENESIS = "0" * 64
BATCH = 1000


def _table(with_alg):
    columns = [sa.column("seq", sa.BigInteger()), sa.column("at", UTCDateTime()), sa.column("actor_id", sa.Uuid()),
               sa.column("actor_role", sa.String()), sa.column("office_id", sa.Integer()),
               sa.column("action", sa.String()), sa.column("target_type", sa.String()),
               sa.column("target_id", sa.String()), sa.column("ip", sa.String()), sa.column("request_id", sa.String()),
               sa.column("prev_hash", sa.String()), sa.column("hash", sa.String())]
    if with_alg:
        columns.append(sa.column("alg", sa.String()))
    return sa.table("audit_entries", *columns)


HEAD = sa.table("audit_head", sa.column("id", sa.Integer()), sa.column("seq", sa.BigInteger()),
                sa.column("hash", sa.String()))


def _body(row, alg):
    fields = {
        "seq": row.seq, "at": row.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_id": str(row.actor_id) if row.actor_id else None, "actor_role": row.actor_role,
        "office_id": row.office_id, "action": row.action, "target_type": row.target_type,
        "target_id": row.target_id, "ip": row.ip, "request_id": row.request_id,
    }
    if alg is not None:
        fields["alg"] = alg
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _unkeyed(prev_hash, row):
    """0005-0012: SHA-256 (SM3 with QZBG_BLIND_INDEX=hmac-sm3) of the hash before | the entry."""
    sm3 = current_app.config["QZBG"].blind_index == "hmac-sm3"
    digest = hashes.Hash(hashes.SM3() if sm3 else hashes.SHA256())
    digest.update(prev_hash.encode("ascii") + b"|" + _body(row, None))
    return digest.finalize().hex()


def _vault():
    vault = current_app.extensions.get("qzbg.vault")
    if vault is None:
        raise RuntimeError("0013 keys the audit chain with the keyring: run `flask keys init` or set QZBG_KEYRING")
    return vault


def _keyed(alg):
    vault = _vault()

    def mac(prev_hash, row, row_alg=None):
        return vault.audit_mac(row_alg or alg, prev_hash.encode("ascii") + b"|" + _body(row, row_alg or alg)).hex()

    return mac


def _rows(conn, table):
    """Every entry in chain order, a batch at a time (keyset on seq)."""
    last = 0
    while True:
        rows = conn.execute(sa.select(table).where(table.c.seq > last).order_by(table.c.seq).limit(BATCH)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def _check(conn, table, expected_hash):
    """The chain as it is stored, checked with ``expected_hash(prev_hash, row)``: (last seq, last hash), or a
    RuntimeError naming the first bad entry."""
    prev, seq = GENESIS, 0
    for row in _rows(conn, table):
        if row.seq != seq + 1:
            raise _broken(seq + 1, "missing")
        if row.prev_hash != prev or expected_hash(prev, row) != row.hash:
            raise _broken(row.seq, "altered or not following the entry before")
        prev, seq = row.hash, row.seq
    head = conn.execute(sa.select(HEAD.c.seq, HEAD.c.hash).where(HEAD.c.id == 1)).one_or_none()
    if head is not None and tuple(head) != (seq, prev):
        raise _broken(seq + 1 if head.seq > seq else seq, "head does not match")
    if head is None and seq:
        raise _broken(seq, "head missing")
    return seq, prev


def _broken(seq, reason):
    return RuntimeError(
        f"audit chain broken at entry {seq}: {reason}. The upgrade stops and changes nothing, so that re-keying "
        "does not cover up an alteration: restore audit_entries and audit_head from a backup and investigate from "
        "that entry (docs/operations.md, 'Audit log')."
    )


def _rehash(conn, table, new_hash, alg_column):
    """Every entry's prev_hash and hash recomputed in order with ``new_hash``; returns the new head."""
    prev, seq = GENESIS, 0
    changes = []
    store = (sa.update(table).where(table.c.seq == sa.bindparam("at_seq"))
             .values(prev_hash=sa.bindparam("new_prev"), hash=sa.bindparam("new_hash"),
                     **({"alg": sa.bindparam("new_alg")} if alg_column else {})))
    for row in _rows(conn, table):  # each batch is read whole before any of it is written back
        digest = new_hash(prev, row)
        changes.append({"at_seq": row.seq, "new_prev": prev, "new_hash": digest,
                        **({"new_alg": alg_column} if alg_column else {})})
        prev, seq = digest, row.seq
        if len(changes) >= BATCH:
            conn.execute(store, changes)
            changes = []
    if changes:
        conn.execute(store, changes)
    return seq, prev


def upgrade():
    conn = op.get_bind()
    alg = f"hmac-{current_app.config['QZBG'].audit_hash}"
    mac = _keyed(alg)  # fails here, before anything changes, without a keyring
    old_seq, old_hash = _check(conn, _table(with_alg=False), _unkeyed)
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alg', sa.String(length=16), nullable=True))
    table = _table(with_alg=True)
    seq, head = _rehash(conn, table, mac, alg)
    if seq:
        marker = {"seq": seq + 1, "at": dt.datetime.now(dt.UTC), "actor_id": None, "actor_role": "system",
                  "office_id": None, "action": "audit.chain_keyed", "target_type": "audit_chain",
                  "target_id": old_hash, "ip": None, "request_id": None}
        digest = mac(head, SimpleNamespace(**marker))  # read by attribute, as a fetched row is
        conn.execute(sa.insert(table).values(**marker, prev_hash=head, hash=digest, alg=alg))
        seq, head = seq + 1, digest
    conn.execute(sa.update(HEAD).where(HEAD.c.id == 1).values(seq=seq, hash=head))
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.alter_column('alg', existing_type=sa.String(length=16), nullable=False)
    log.info("audit chain keyed (%s): unkeyed head %s:%s, keyed head %s:%s", alg, old_seq, old_hash, seq, head)


def downgrade():
    conn = op.get_bind()
    vault = _vault()
    table = _table(with_alg=True)
    _check(conn, table, lambda prev, row: vault.audit_mac(
        row.alg, prev.encode("ascii") + b"|" + _body(row, row.alg)).hex())
    seq, head = _rehash(conn, _table(with_alg=False), _unkeyed, None)
    conn.execute(sa.update(HEAD).where(HEAD.c.id == 1).values(seq=seq, hash=head))
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_column('alg')
    log.info("audit chain unkeyed: head %s:%s", seq, head)

