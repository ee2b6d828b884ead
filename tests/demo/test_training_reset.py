"""A training deployment's reset (app/demo/reset.py, snapshot.py): the seeded data put back from its snapshot in one
transaction, what trainees added gone, the accounts and their TOTP secrets unchanged, every session ended with
its reason kept; without a snapshot that fits, a fresh seed (and a new snapshot); a failed reset changes nothing."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest
from sqlalchemy import func, select

from app.audit import service as audit
from app.audit.models import AuditEntry
from app.auth import passwords
from app.auth.models import StaffSession, StaffUser
from app.core.actor import Actor
from app.crypto.vault import get_vault
from app.demo import reset, snapshot
from app.demo.accounts import demo_accounts
from app.extensions import db
from app.reports.models import Report
from tests.factories import create_report, create_staff


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def tracking_numbers() -> list[str]:
    return sorted(db.session.scalars(select(Report.tracking_no)))


def run(app, **kwargs) -> reset.Outcome:
    db.session.commit()  # the reset is a transaction of its own
    outcome = reset.reset_data(settings=app.config["QZBG"], vault=get_vault(), now=dt.datetime.now(dt.UTC),
                               **{"actor": None, **kwargs})
    db.session.expire_all()
    return outcome


def test_a_reset_puts_the_seeded_data_back_and_drops_what_the_trainees_added(training_app, seeded):
    before = tracking_numbers()
    sealed_before = {r.tracking_no: r.section("victim") for r in db.session.scalars(select(Report))}
    practice = create_report(training=True).tracking_no
    create_staff("trainee.made", role="prosecutor")
    db.session.commit()

    outcome = run(training_app)

    assert outcome.restored
    assert tracking_numbers() == before  # the same reports, numbered as the seed numbered them
    assert practice not in tracking_numbers()
    assert count(StaffUser, StaffUser.username == "trainee.made") == 0
    # Every sealed field opens again (its data key came back with it), and holds what it held.
    assert {r.tracking_no: r.section("victim") for r in db.session.scalars(select(Report))} == sealed_before
    assert audit.verify().ok
    # A number is never given twice: the next report takes one after every number given so far.
    assert create_report(training=True).tracking_no > practice


def test_the_demo_accounts_keep_their_passwords_and_totp_secrets_across_resets(training_app, seeded):
    settings = training_app.config["QZBG"]
    printed = {a.username: (a.password, a.totp_secret or "-", a.role) for a in demo_accounts(settings.secret_key)}
    assert printed == seeded
    for fresh in (False, True):
        run(training_app, fresh=fresh, reports_count=8)
        for username, (password, secret, _role) in seeded.items():
            user = db.session.scalars(select(StaffUser).where(StaffUser.username == username)).one()
            assert passwords.verify(user.password_hash, password)
            assert (user.unseal("totp_secret_data") if user.totp_secret_data else "-") == secret


def test_every_session_ends_at_a_reset_and_keeps_why_for_the_login_page(training_app, seeded):
    from app.auth import sessions

    user = db.session.scalars(select(StaffUser).where(StaffUser.username == "demo.prosecutor")).one()
    now = dt.datetime.now(dt.UTC)
    token, _ = sessions.start(user, now=now, lifetime=dt.timedelta(hours=12), ip=None, user_agent=None,
                              stepped_up=True)
    db.session.commit()

    outcome = run(training_app)

    assert outcome.sessions_ended == 1
    assert sessions.find(token, now=now, idle=dt.timedelta(minutes=30)) is None
    assert sessions.ended_reason(token) == "training_reset"
    assert count(StaffSession, StaffSession.ended_at.is_(None)) == 0


def test_without_a_snapshot_a_reset_seeds_afresh_and_writes_one(training_app, seeded):
    path = snapshot.path(training_app.config["QZBG"])
    path.unlink()

    outcome = run(training_app, reports_count=8)

    assert not outcome.restored
    assert outcome.seeded is not None
    assert outcome.seeded.reports == 8
    assert path.exists()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert run(training_app).restored
    assert audit.verify().ok


def test_a_snapshot_of_another_secret_key_or_another_migration_is_not_put_back(training_app, seeded):
    settings = training_app.config["QZBG"]
    stored = snapshot.load(snapshot.path(settings))
    assert stored is not None
    assert snapshot.fits(stored, secret_key=settings.secret_key, vault=get_vault())
    assert not snapshot.fits(stored, secret_key=settings.secret_key + "-other", vault=get_vault())
    assert not snapshot.fits(snapshot.Snapshot("0000_other", stored.key_check, stored.taken_at, stored.tables),
                             secret_key=settings.secret_key, vault=get_vault())


def test_the_snapshot_holds_no_personal_field_in_clear(training_app, seeded):
    """The snapshot is what the database holds: sealed fields stay sealed."""
    names = [r.section("victim")["name"] for r in db.session.scalars(select(Report))]
    with gzip.open(snapshot.path(training_app.config["QZBG"]), "rt", encoding="utf-8") as stream:
        text = stream.read()
    json.loads(text)
    assert names
    assert not any(name in text for name in names)


def test_a_reset_that_fails_changes_nothing_and_ends_no_session(training_app, seeded):
    from app.auth import sessions

    path = snapshot.path(training_app.config["QZBG"])
    stored = snapshot.load(path)
    reports = stored.tables["reports"]
    reports["rows"].append(list(reports["rows"][0]))  # the same report twice: the restore cannot insert it
    snapshot.save(stored, path)
    before = tracking_numbers()
    practice = create_report(training=True).tracking_no
    user = db.session.scalars(select(StaffUser).where(StaffUser.username == "demo.lead")).one()
    token, _ = sessions.start(user, now=dt.datetime.now(dt.UTC), lifetime=dt.timedelta(hours=12), ip=None,
                              user_agent=None, stepped_up=True)
    db.session.commit()

    with pytest.raises(Exception, match="UNIQUE|unique|duplicate"):
        run(training_app)

    db.session.rollback()
    assert tracking_numbers() == sorted([*before, practice])
    assert sessions.find(token, now=dt.datetime.now(dt.UTC), idle=dt.timedelta(minutes=30)) is not None
    assert count(AuditEntry, AuditEntry.action == "training.reset") == 0


def test_the_reset_is_audited_under_the_trainer(training_app, seeded):
    trainer = Actor.staff(db.session.scalars(select(StaffUser).where(StaffUser.username == "demo.trainer")).one(),
                          ip="10.1.2.3")
    run(training_app, actor=trainer)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "training.reset")).one()
    assert (entry.actor_id, entry.actor_role, entry.ip) == (trainer.id, "trainer", "10.1.2.3")
    assert audit.verify().ok


def test_a_reset_refuses_a_deployment_that_is_not_a_training_one(app):
    real = create_report()
    with pytest.raises(Exception, match="QZBG_TRAINING=1"):
        reset.reset_data(settings=app.config["QZBG"], vault=get_vault(), actor=None, now=dt.datetime.now(dt.UTC))
    db.session.expire_all()
    assert db.session.get(Report, real.id) is not None
