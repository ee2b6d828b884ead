"""``flask users ...``: passwords read twice from standard input, strong ones only."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.models import StaffUser
from app.extensions import db
from tests.factories import STAFF_PASSWORD

GOOD = STAFF_PASSWORD + "\n" + STAFF_PASSWORD + "\n"


def test_users_create_reads_the_password_twice(runner):
    result = runner.invoke(args=["users", "create", "Wang.Jc", "--role", "prosecutor", "--name", "王检察官",
                                 "--email", "wang@example.org", "--mobile", "13800000001"], input=GOOD)
    assert result.exit_code == 0, result.output
    user = db.session.scalars(select(StaffUser)).one()
    assert (user.username, user.display_name, user.role) == ("wang.jc", "王检察官", "prosecutor")
    assert user.password_hash.startswith("$argon2id$")
    assert user.mobile_data is not None
    assert b"13800000001" not in user.mobile_data
    assert user.unseal("mobile_data") == "13800000001"


def test_users_create_keeps_the_contact_fields_where_notifications_go(runner):
    result = runner.invoke(args=["users", "create", "zhou", "--role", "lead", "--wecom-userid", "ZhouJian",
                                 "--email", " zhou@example.org ", "--mobile", "+86 139-1234-0000"], input=GOOD)
    assert result.exit_code == 0, result.output
    user = db.session.scalars(select(StaffUser)).one()
    assert (user.wecom_userid, user.email) == ("ZhouJian", "zhou@example.org")
    assert user.unseal("mobile_data") == "13912340000"  # as Tencent SMS gets it: +86 and these 11 digits


def test_bad_contact_fields_are_refused_in_chinese_and_nothing_is_stored(runner):
    for option, value, message in (
        ("--wecom-userid", "王检", "企业微信账号"), ("--wecom-userid", "x" * 65, "企业微信账号"),
        ("--wecom-userid", "-lead", "企业微信账号"), ("--email", "not-an-address", "电子邮件"),
        ("--email", "a" * 110 + "@example.org", "电子邮件"), ("--mobile", "1391234", "手机号码"),
        ("--mobile", "057188888888", "手机号码"),
    ):
        result = runner.invoke(args=["users", "create", "zhou", "--role", "lead", option, value], input=GOOD)
        assert result.exit_code != 0, (option, value)
        assert message in result.output, (option, value)
    assert db.session.scalars(select(StaffUser)).all() == []


def test_two_different_passwords_are_refused(runner):
    result = runner.invoke(args=["users", "create", "li", "--role", "lead"], input=STAFF_PASSWORD + "\nother\n")
    assert result.exit_code != 0
    assert db.session.scalars(select(StaffUser)).all() == []


def test_short_and_common_passwords_are_refused(runner):
    for weak in ("short", "123456789012", "password1234", "aaaaaaaaaaaaaaaa"):
        result = runner.invoke(args=["users", "create", "zhao", "--role", "admin"], input=f"{weak}\n{weak}\n")
        assert result.exit_code != 0, weak
    assert db.session.scalars(select(StaffUser)).all() == []


def test_police_need_a_police_unit_and_liaisons_a_unit(runner):
    assert runner.invoke(args=["users", "create", "pol", "--role", "police"], input=GOOD).exit_code != 0
    assert runner.invoke(args=["users", "create", "lia", "--role", "unit_liaison"], input=GOOD).exit_code != 0


def test_list_deactivate_unlock_and_reset_totp(runner, app):
    from tests.factories import create_staff

    user = create_staff(username="sun")
    db.session.commit()
    assert "sun\tprosecutor\tdefault\tactive\ttotp" in runner.invoke(args=["users", "list"]).output
    assert runner.invoke(args=["users", "reset-totp", "sun"]).exit_code == 0
    assert "no-totp" in runner.invoke(args=["users", "list"]).output
    assert runner.invoke(args=["users", "deactivate", "sun"]).exit_code == 0
    assert "inactive" in runner.invoke(args=["users", "list"]).output
    assert runner.invoke(args=["users", "unlock", "nobody"]).exit_code != 0
    db.session.expire_all()
    assert db.session.get(StaffUser, user.id).active is False


def test_set_password_reads_it_twice_refuses_a_weak_one_and_ends_every_session(runner, app):
    from tests.auth.conftest import login
    from tests.factories import create_staff

    user = create_staff(username="qian")
    db.session.commit()
    client = app.test_client()
    assert login(client, user).status_code == 303
    before = user.password_hash
    assert runner.invoke(args=["users", "set-password", "qian"], input="short\nshort\n").exit_code != 0
    assert runner.invoke(args=["users", "set-password", "qian"], input=GOOD.replace("7\n", "8\n", 1)).exit_code != 0
    db.session.expire_all()
    assert db.session.get(StaffUser, user.id).password_hash == before
    assert client.get("/review/").status_code == 200
    new = "another long passphrase, seventeen trees"
    result = runner.invoke(args=["users", "set-password", "qian"], input=f"{new}\n{new}\n")
    assert result.exit_code == 0, result.output
    assert client.get("/review/").status_code == 303
    assert login(app.test_client(), user, password=new, step=1).status_code == 303
    assert runner.invoke(args=["users", "set-password", "nobody"], input=f"{new}\n{new}\n").exit_code != 0
