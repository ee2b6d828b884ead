"""People, in the browser's pages (CONTRACT.md "Administration"): an administrator creates an account without
typing its owner's password, the one-time setup link shown once; deactivates and reactivates, resets the password
(a new link, sessions ended) and the second factor, unlocks, changes the role, sets the contacts; the list shows
binding, channels, 2FA and state and filters by role and state. Every change is audited and needs a recent code."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth import passwords
from app.auth.models import SetupLink, StaffSession, StaffUser
from app.extensions import db
from app.offices.models import PoliceUnit
from tests.auth.conftest import csrf_of, login, post
from tests.factories import create_unit
from tests.review.detail_helpers import Person, age_step_up, step_up

LINK = re.compile(r'data-field="setup_link">(http://\S+/setup/([A-Za-z0-9_-]+))<')


def actions_of(username: str) -> list[str]:
    user = db.session.scalars(select(StaffUser).where(StaffUser.username == username)).one()
    return db.session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == str(user.id))
                              .order_by(AuditEntry.seq)).all()


def act(client, username: str, action: str, **data: str):
    return post(client, f"/admin/users/{username}/actions/{action}", data, form_page=f"/admin/users/{username}")


@pytest.fixture
def admin(logged_in):
    client, user = logged_in("admin")
    return client, user


def test_an_admin_creates_a_police_account_and_sees_its_setup_link_once(app, admin):
    client, _ = admin
    db.session.add(PoliceUnit(code="pcs-east", name="城东派出所", office_id=1))
    db.session.commit()
    created = post(client, "/admin/users/new", {
        "username": "Chen.Jg", "display_name": "陈警官", "role": "police", "police_unit": "pcs-east",
        "wecom_userid": "chenjg", "email": " chen@example.org ", "mobile": "+86 139-0000-0001"})
    assert (created.status_code, created.headers["Location"]) == (303, "/admin/users/chen.jg")
    page = client.get("/admin/users/chen.jg").text
    link, token = LINK.search(page).groups()
    assert link.startswith(app.config["QZBG"].public_url.rstrip("/") + "/setup/")
    assert "已新建账号 chen.jg" in page
    assert LINK.search(client.get("/admin/users/chen.jg").text) is None  # shown once
    user = db.session.scalars(select(StaffUser).where(StaffUser.username == "chen.jg")).one()
    assert (user.role, user.police_unit.code, user.email, user.unseal("mobile_data")) == (
        "police", "pcs-east", "chen@example.org", "13900000001")
    assert user.password_hash == passwords.UNUSABLE
    assert app.test_client().get(f"/setup/{token}").status_code == 200
    assert actions_of("chen.jg")[:2] == ["user.create", "user.setup_link"]
    listed = client.get("/admin/users?role=police").text
    row = listed.split('data-username="chen.jg"')[1].split("</tr>")[0]
    assert "城东派出所" in row
    assert "企业微信、邮件、短信" in row
    assert "待本人设置密码" in row


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"username": "ab", "role": "prosecutor"}, "username", "用户名应为3至40个"),
    ({"username": "new.user", "role": "boss"}, "role", "角色应为"),
    ({"username": "new.user", "role": "police"}, "police_unit", "公安联络人须指定所属公安机关"),
    ({"username": "new.user", "role": "unit_liaison", "unit": "no-such"}, "unit", "找不到该成员单位代码"),
    ({"username": "new.user", "role": "prosecutor", "email": "not-an-address"}, "email", "有效的电子邮件"),
    ({"username": "new.user", "role": "prosecutor", "mobile": "12345"}, "mobile", "11位手机号码"),
    ({"username": "new.user", "role": "prosecutor", "wecom_userid": "<script>"}, "wecom_userid", "企业微信账号"),
])
def test_a_refused_new_account_is_shown_beside_its_field_with_the_values_kept_and_nothing_stored(
        app, admin, data, field, message):
    client, _ = admin
    before = db.session.scalar(select(db.func.count()).select_from(StaffUser))
    answer = post(client, "/admin/users/new", {"display_name": "新同事", **data})
    assert answer.status_code == 422
    assert f'data-error-for="{field}"' in answer.text
    assert message in answer.text
    assert 'value="新同事"' in answer.text
    assert db.session.scalar(select(db.func.count()).select_from(StaffUser)) == before
    assert db.session.scalar(select(db.func.count()).select_from(SetupLink)) == 0


def test_a_taken_user_name_is_refused(app, admin, staff):
    client, _ = admin
    other = staff(role="prosecutor")
    answer = post(client, "/admin/users/new", {"username": other.username.upper(), "role": "prosecutor"})
    assert answer.status_code == 409
    assert "该用户名已存在" in answer.text


def test_each_action_of_the_account_page_is_carried_out_audited_and_says_what_it_did(app, admin, staff):
    client, _ = admin
    target = staff(role="prosecutor")
    target_client = app.test_client()
    assert login(target_client, target).status_code == 303
    name = target.username

    done = act(client, name, "deactivate")
    assert (done.status_code, done.headers["Location"]) == (303, f"/admin/users/{name}")
    assert "已停用账号" in client.get(done.headers["Location"]).text
    assert target_client.get("/review/").status_code in (302, 303)  # the session ended
    assert act(client, name, "reactivate").status_code == 303
    reset = act(client, name, "reset_password")
    assert reset.status_code == 303
    assert LINK.search(client.get(f"/admin/users/{name}").text)
    assert act(client, name, "reset_totp").status_code == 303
    assert act(client, name, "change_role", role="lead").status_code == 303
    assert act(client, name, "set_contacts", wecom_userid="wang01", email="", mobile="13800000009"
               ).status_code == 303
    db.session.expire_all()
    user = db.session.get(StaffUser, target.id)
    assert (user.active, user.role, user.totp_enrolled_at, user.wecom_userid, user.email) == (
        True, "lead", None, "wang01", None)
    assert user.unseal("mobile_data") == "13800000009"
    assert user.password_hash == passwords.UNUSABLE
    assert db.session.scalars(select(StaffSession).where(StaffSession.user_id == user.id,
                                                         StaffSession.ended_at.is_(None))).all() == []
    assert {"user.deactivate", "user.reactivate", "user.setup_link", "user.reset_totp", "user.change_role",
            "user.set_contacts"} <= set(actions_of(name))


def test_bad_contacts_come_back_beside_the_field_and_change_nothing(app, admin, staff):
    client, _ = admin
    target = staff(role="prosecutor")
    answer = act(client, target.username, "set_contacts", email="bad@", mobile="", wecom_userid="")
    assert answer.status_code == 422
    assert 'data-error-for="email"' in answer.text
    assert 'value="bad@"' in answer.text
    assert "user.set_contacts" not in actions_of(target.username)


def test_an_admin_cannot_deactivate_themself(app, admin):
    client, me = admin
    answer = act(client, me.username, "deactivate")
    assert answer.status_code == 422
    assert "不能停用自己的账号" in answer.text
    db.session.expire_all()
    assert db.session.get(StaffUser, me.id).active


def test_the_list_filters_by_state(app, admin, staff):
    client, _ = admin
    gone = staff(role="prosecutor")
    act(client, gone.username, "deactivate")
    inactive = client.get("/admin/users?state=inactive").text
    assert f'data-username="{gone.username}"' in inactive
    assert inactive.count("data-username=") == 1
    assert f'data-username="{gone.username}"' not in client.get("/admin/users?state=active").text


def test_an_account_page_and_its_changes_need_a_recent_code_and_the_change_is_kept(app, admin, staff):
    client, me = admin
    target = staff(role="prosecutor")
    who = Person(client, me)
    age_step_up(who)
    assert client.get(f"/admin/users/{target.username}").headers["Location"].startswith("/account/step-up")
    token = csrf_of(client, "/admin/users")
    held = client.post(f"/admin/users/{target.username}/actions/reset_totp", data={"csrf_token": token})
    assert held.headers["Location"].startswith("/account/step-up")
    done = step_up(who, "/admin/users")
    assert (done.status_code, done.headers["Location"]) == (303, f"/admin/users/{target.username}")
    assert "user.reset_totp" in actions_of(target.username)


def test_another_offices_account_is_not_found(app, admin):
    from tests.factories import create_office, create_staff

    client, _ = admin
    stranger = create_staff(role="prosecutor", office=create_office("other-office"))
    db.session.commit()
    assert client.get(f"/admin/users/{stranger.username}").status_code == 404
    token = csrf_of(client, "/admin/users")
    assert client.post(f"/admin/users/{stranger.username}/actions/deactivate",
                       data={"csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert db.session.get(StaffUser, stranger.id).active


def test_a_liaison_login_is_given_from_a_member_units_code(app, admin):
    client, _ = admin
    create_unit("school-7", name="第七中学", type="school")
    db.session.commit()
    created = post(client, "/admin/users/new", {"username": "liaison.7", "role": "unit_liaison", "unit": "school-7",
                                                "display_name": "赵老师"})
    assert created.status_code == 303
    assert LINK.search(client.get(created.headers["Location"]).text)


def test_a_member_units_page_gives_its_liaison_a_login_with_a_setup_link(app, admin):
    client, _ = admin
    unit = create_unit("clinic-9", name="第九社区卫生服务中心", type="community_health")
    db.session.commit()
    page = client.get("/admin/units/clinic-9").text  # the page by its code (CONTRACT.md)
    assert 'data-action="add_liaison_login"' in page
    created = post(client, "/admin/units/clinic-9/liaison-login", {"username": "clinic9.liu", "display_name": "刘护士",
                                                                  "email": "", "mobile": "13700000003"},
                   form_page="/admin/units/clinic-9")
    assert (created.status_code, created.headers["Location"]) == (303, "/admin/users/clinic9.liu")
    assert LINK.search(client.get(created.headers["Location"]).text)
    user = db.session.scalars(select(StaffUser).where(StaffUser.username == "clinic9.liu")).one()
    assert (user.role, user.unit_id) == ("unit_liaison", unit.id)


def test_a_refused_liaison_login_comes_back_on_the_units_page_beside_its_field(app, admin):
    client, _ = admin
    create_unit("clinic-10")
    db.session.commit()
    answer = post(client, "/admin/units/clinic-10/liaison-login", {"username": "x", "mobile": "abc"},
                  form_page="/admin/units/clinic-10")
    assert answer.status_code == 422
    assert 'data-error-for="username"' in answer.text
    assert 'data-error-for="mobile"' in answer.text
    assert 'value="abc"' in answer.text
    assert db.session.scalars(select(StaffUser).where(StaffUser.role == "unit_liaison")).all() == []
