"""The audit log: every entry chained to the one before under a key from the keyring; altering, deleting or
inserting one is caught. Rewriting the chain without the key: tests/audit/test_rewriting.py."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from sqlalchemy import delete, select, update

from app.audit import service as audit
from app.audit.models import AuditEntry, AuditHead
from app.core.actor import Actor, ActorKind
from app.crypto import keyfile
from app.crypto.vault import Vault
from app.extensions import db

ACTOR = Actor(ActorKind.STAFF, id=uuid.UUID(int=7), role="prosecutor", office_id=1, ip="10.0.0.7",
              request_id="req-1")
# Someone who has the code and can write the tables, but not this deployment's keyring: a key of their own.
OUTSIDER = audit.ChainKey("hmac-sha256", Vault(keyfile.generate(), "aes-256-gcm", "hmac-sha256").audit_mac)


def write(n: int) -> None:
    now = dt.datetime.now(dt.UTC)
    for i in range(n):
        audit.record(ACTOR, "report.view", now=now + dt.timedelta(seconds=i), target_type="report",
                     target_id=uuid.uuid4())
    db.session.commit()


def test_a_whole_chain_verifies_and_the_cli_says_so(app, runner):
    write(5)
    assert audit.verify().ok
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0
    head = audit.chain_head()
    assert f"5 entries, head {head.seq}:{head.hash}" in result.output


def test_an_altered_entry_is_caught_and_named(app, runner):
    write(5)
    db.session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(action="report.export"))
    db.session.commit()
    verdict = audit.verify()
    assert (verdict.ok, verdict.bad_seq, verdict.reason) == (False, 3, "altered")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "entry 3" in result.output


def test_a_deleted_entry_is_caught(app):
    write(5)
    db.session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    db.session.commit()
    verdict = audit.verify()
    assert (verdict.ok, verdict.bad_seq) == (False, 2)


def test_a_deleted_last_entry_is_caught_by_the_head(app):
    write(3)
    db.session.execute(delete(AuditEntry).where(AuditEntry.seq == 3))
    db.session.commit()
    assert not audit.verify().ok


def test_an_inserted_entry_is_caught(app):
    write(3)
    last = db.session.get(AuditEntry, 3)
    forged = AuditEntry(seq=4, at=last.at, actor_id=None, actor_role=None, office_id=1, action="report.view",
                        target_type="report", target_id="x", ip=None, request_id=None, prev_hash=last.hash,
                        hash="f" * 64, alg="hmac-sha256")
    db.session.add(forged)
    db.session.commit()
    verdict = audit.verify()
    assert (verdict.ok, verdict.bad_seq) == (False, 4)


def test_an_entry_appended_under_another_key_is_caught_even_with_the_head_moved_to_it(app):
    write(3)
    last = db.session.get(AuditEntry, 3)
    forged = AuditEntry(seq=4, at=last.at, actor_id=None, actor_role=None, office_id=1, action="report.view",
                        target_type="report", target_id="x", ip=None, request_id=None, prev_hash=last.hash,
                        alg="hmac-sha256")
    forged.hash = audit.entry_hash(last.hash, forged, OUTSIDER)
    db.session.add(forged)
    db.session.execute(update(AuditHead).values(seq=4, hash=forged.hash))
    db.session.commit()
    verdict = audit.verify()
    assert (verdict.ok, verdict.bad_seq, verdict.reason) == (False, 4, "altered")


def test_an_entry_beyond_the_head_is_caught_even_when_its_hash_is_right(app):
    write(3)
    last = db.session.get(AuditEntry, 3)
    forged = AuditEntry(seq=4, at=last.at, actor_id=None, actor_role=None, office_id=1, action="report.view",
                        target_type="report", target_id="x", ip=None, request_id=None, prev_hash=last.hash,
                        alg="hmac-sha256")
    forged.hash = audit.entry_hash(last.hash, forged)
    db.session.add(forged)
    db.session.commit()
    assert audit.verify().reason == "an entry beyond the head"


def test_entries_carry_no_personal_data_only_ids(app):
    write(1)
    entry = db.session.scalars(select(AuditEntry)).one()
    assert (entry.actor_role, entry.office_id, entry.ip, entry.request_id) == ("prosecutor", 1, "10.0.0.7", "req-1")
    assert entry.prev_hash == audit.GENESIS
    assert (len(entry.hash), entry.alg) == (64, "hmac-sha256")


def test_an_entry_rolls_back_with_its_action(app):
    audit.record(ACTOR, "report.view", now=dt.datetime.now(dt.UTC))
    db.session.rollback()
    assert db.session.scalars(select(AuditEntry)).all() == []
    write(1)
    assert audit.verify().ok


def test_concurrent_writers_make_one_unbroken_chain(app, backend_name):
    if backend_name != "postgresql":
        pytest.skip("SQLite runs one writer at a time; the race is PostgreSQL's")
    write(1)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context():
                for _ in range(10):
                    audit.record(ACTOR, "report.view", now=dt.datetime.now(dt.UTC))
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    verdict = audit.verify()
    assert verdict.ok
    assert verdict.checked == 61
    assert db.session.get(AuditHead, 1).seq == 61


def test_the_worker_logs_the_chain_head_when_it_starts_and_hourly(app, caplog):
    import datetime as dt
    import logging

    from app.notify import jobs

    write(2)
    head_job = [job for job in jobs.REGISTRY if job.name == "audit_chain_head"]
    start = dt.datetime.now(dt.UTC)
    with caplog.at_level(logging.INFO, logger="qzbg.audit"):
        # A scheduled job of the worker's: due at once on a fresh database, then every hour.
        for minutes in (0, 30, 61):
            jobs.run_due(start + dt.timedelta(minutes=minutes), owner="worker-1", settings=app.config["QZBG"],
                         registry=head_job)
    heads = [r for r in caplog.records if r.getMessage() == "audit.chain_head"]
    assert len(heads) == 2
    head = audit.chain_head()
    # the line carries the head as `flask audit verify --head` takes it
    assert (heads[0].seq, heads[0].hash, heads[0].head) == (head.seq, head.hash, f"{head.seq}:{head.hash}")


def test_a_missing_head_with_entries_is_a_broken_chain_and_stops_new_entries(app):
    write(2)
    db.session.execute(delete(AuditHead))
    db.session.commit()
    verdict = audit.verify()
    assert (verdict.ok, verdict.reason) == (False, "head missing")
    with pytest.raises(RuntimeError):
        audit.record(ACTOR, "report.view", now=dt.datetime.now(dt.UTC))
    db.session.rollback()


def test_entries_appended_while_the_check_runs_are_not_a_break(app, monkeypatch):
    write(3)
    real = audit._verify

    def with_a_writer(batch, recorded):
        verdict = None
        # The check has read the head; an action appends an entry (and moves the head) before it finishes.
        original_get = db.session.get

        def get_then_write(model, key, *args, **kwargs):
            result = original_get(model, key, *args, **kwargs)
            if model is AuditHead and not getattr(get_then_write, "done", False):
                get_then_write.done = True
                audit.record(ACTOR, "report.view", now=dt.datetime.now(dt.UTC))
            return result

        monkeypatch.setattr(db.session, "get", get_then_write)
        verdict = real(batch, recorded)
        monkeypatch.undo()
        return verdict

    monkeypatch.setattr(audit, "_verify", with_a_writer)
    assert audit.verify().ok


def test_writers_inside_requests_never_read_the_same_head(app):
    """Views write with the "write" intent: on SQLite the head is read only once the write lock is held."""
    from app.core.db import WRITE, intent

    write(1)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context(), intent(WRITE):
                for _ in range(5):
                    audit.record(ACTOR, "report.view", now=dt.datetime.now(dt.UTC))
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    verdict = audit.verify()
    assert verdict.ok
    assert verdict.checked == 21


def test_operator_commands_are_audited(app, runner, tmp_path):
    path = tmp_path / "police.csv"
    path.write_text("code,name,district_code,active\np1,甲所,,1\n", encoding="utf-8")
    assert runner.invoke(args=["police-units", "import", str(path)]).exit_code == 0
    assert runner.invoke(args=["offices", "add", "north", "北院", "--districts", "430299"]).exit_code == 0
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert actions == ["police_units.import", "offices.add"]
    assert {e.actor_role for e in db.session.scalars(select(AuditEntry))} == {"system"}
    assert audit.verify().ok
