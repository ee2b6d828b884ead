"""``flask demo seed|reset``: synthetic data through the project's own services, on a training deployment only."""

from __future__ import annotations

import re

import pyotp
import pytest
from sqlalchemy import func, select

from app.audit import service as audit
from app.auth.models import StaffUser
from app.extensions import db
from app.reports.models import Report
from app.reports.records import Question, Referral, Transfer
from app.reports.states import Status
from app.units.models import UNIT_TYPES, Unit
from tests.factories import create_report, create_staff

ROLES = {"admin", "lead", "prosecutor", "police", "unit_liaison", "trainer"}
ACCOUNT = re.compile(rf"^demo account: (\S+) (\S+) ([A-Z2-7]{{32}}|-) ({'|'.join(sorted(ROLES))})$")


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def accounts(output: str) -> dict[str, tuple[str, str, str]]:
    """username -> (password, secret, role) of every ``demo account:`` line."""
    found = {}
    for line in output.splitlines():
        if line.startswith("demo account:"):
            match = ACCOUNT.match(line)
            assert match, line
            found[match[1]] = (match[2], match[3], match[4])
    return found


def test_seed_refuses_without_qzbg_training_and_writes_nothing(app):
    result = app.test_cli_runner().invoke(args=["demo", "seed", "--reports", "5"])
    assert result.exit_code == 1
    assert "QZBG_TRAINING=1" in result.output
    assert "must never touch a real database" in result.output
    assert count(Report) == 0
    assert count(Unit) == 0
    reset = app.test_cli_runner().invoke(args=["demo", "reset", "--reports", "5"])
    assert reset.exit_code == 1
    assert "QZBG_TRAINING=1" in reset.output


def test_reset_refuses_without_qzbg_training_and_leaves_a_real_database_alone(app):
    real = create_report()
    result = app.test_cli_runner().invoke(args=["demo", "reset"])
    assert result.exit_code == 1
    db.session.expire_all()
    assert db.session.get(Report, real.id) is not None


@pytest.mark.slow
def test_seed_makes_300_reports_over_18_months_in_every_status_from_units_of_every_type(training_app):
    result = training_app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    assert count(Report, Report.training.is_(False)) == 300
    assert {s for (s,) in db.session.execute(select(Report.status).distinct())} == {s.value for s in Status}
    assert {t for (t,) in db.session.execute(select(Unit.type).distinct())} == set(UNIT_TYPES)
    assert {t for (t,) in db.session.execute(select(Report.unit_type).distinct()) if t} == set(UNIT_TYPES)
    first, last = db.session.execute(select(func.min(Report.submitted_at), func.max(Report.submitted_at))).one()
    assert (last - first).days > 15 * 30
    assert {c for (c,) in db.session.execute(select(Report.channel).distinct())} == {"miniprogram", "web", "phone"}
    # Transfers, police feedback, supervision, referrals and questions, made by the review actions.
    assert count(Transfer) > 50
    assert count(Transfer, Transfer.feedback_outcome.is_not(None)) > 30
    assert count(Transfer, Transfer.supervision_requested_at.is_not(None)) > 3
    assert count(Transfer, Transfer.state == "returned") >= 1
    assert count(Referral) > 5
    assert count(Question, Question.answered_at.is_not(None)) > 5
    assert count(Report, Report.training.is_(True)) == 6
    assert audit.verify().ok


@pytest.mark.slow
def test_seeded_reports_are_sealed_and_readable_and_some_are_overdue(training_app):
    assert training_app.test_cli_runner().invoke(args=["demo", "seed", "--reports", "40"]).exit_code == 0
    import datetime as dt

    from app.review import queries

    reports = list(db.session.scalars(select(Report)))
    for report in reports:
        victim = report.section("victim")
        assert victim["gender"] == report.victim_gender
        assert re.search(r"[\u4e00-\u9fff]", report.section("reporter")["name"])
        assert [e.seq for e in report.events] == list(range(len(report.events)))
        assert [e.at for e in report.events] == sorted(e.at for e in report.events)
    # Sealed: the stored bytes are ciphertext, so no victim's name is in them (a byte-pattern check on the first
    # bytes failed once in 256 runs, when the random nonce began with the byte it looked for).
    for report in reports:
        name = report.section("victim").get("name")
        if name:
            assert name.encode("utf-8") not in report.victim_data
    overdue = select(func.count()).select_from(Report).where(queries.overdue_condition(dt.datetime.now(dt.UTC)))
    assert (db.session.scalar(overdue) or 0) >= 2


def test_seed_prints_one_line_per_demo_account_of_every_role_with_working_credentials(training_app):
    result = training_app.test_cli_runner().invoke(args=["demo", "seed", "--reports", "10"])
    assert result.exit_code == 0, result.output
    found = accounts(result.output)
    assert {role for _, _, role in found.values()} == ROLES
    from app.auth import passwords

    for username, (password, secret, role) in found.items():
        user = db.session.scalars(select(StaffUser).where(StaffUser.username == username)).one()
        assert user.role == role
        assert passwords.verify(user.password_hash, password)
        if role == "unit_liaison":
            assert secret == "-"
        else:
            assert user.unseal("totp_secret_data") == secret
            assert pyotp.TOTP(secret).now().isdigit()
            assert user.totp_enrolled_at is not None


def test_seed_refuses_a_database_that_already_has_data(training_app):
    create_staff(role="prosecutor")
    db.session.commit()
    result = training_app.test_cli_runner().invoke(args=["demo", "seed", "--reports", "5"])
    assert result.exit_code == 1
    assert "flask demo reset" in result.output
    assert count(Report) == 0


@pytest.mark.slow
def test_reset_empties_the_training_database_and_seeds_it_again_keeping_every_accounts_credentials(training_app):
    runner = training_app.test_cli_runner()
    first = runner.invoke(args=["demo", "seed", "--reports", "12"])
    assert first.exit_code == 0, first.output
    stray = create_report(training=True).id
    db.session.commit()
    again = runner.invoke(args=["demo", "reset", "--reports", "12"])
    assert again.exit_code == 0, again.output
    db.session.expire_all()
    assert db.session.get(Report, stray) is None
    assert count(Report, Report.training.is_(False)) == 12
    assert count(StaffUser) == len(accounts(again.output))
    # The sheet printed in the morning stays good: the same passwords and TOTP secrets after every reseed.
    assert accounts(again.output) == accounts(first.output)
    assert audit.verify().ok
