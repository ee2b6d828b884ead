"""/admin/institutions: an administrator registers a hospital's system, gets its key id and secret once on the
answer page (and never on the list), adds a second key and revokes the first; the keys sign real reports.
Another office's administrator finds nothing; a prosecutor is refused."""

from __future__ import annotations

import re

from app.extensions import db
from tests.auth.conftest import logged_in, post, staff  # noqa: F401 - fixtures
from tests.factories import create_office, create_staff, create_unit
from tests.institutions.test_institutional_api import FakeHospital

KEY = re.compile(r'data-field="key_id">([^<]+)<')
SECRET = re.compile(r'data-field="secret">([^<]+)<')


def test_an_admin_registers_a_system_rotates_and_revokes_its_keys_and_the_keys_sign_reports(app, logged_in):  # noqa: F811 - fixture
    create_unit("fy-unit", name="市妇幼保健院")
    create_staff(role="prosecutor")
    db.session.commit()
    admin, _ = logged_in("admin")
    bad = post(admin, "/admin/institutions", {"code": "含 空格", "name": "", "unit": "no-such"},
               form_page="/admin/institutions")
    assert bad.status_code == 422
    assert 'id="form-errors"' in bad.text
    made = post(admin, "/admin/institutions", {"code": "fy-his", "name": "市妇幼HIS", "unit": "fy-unit"},
                form_page="/admin/institutions")
    assert made.status_code == 200, made.text[:300]
    first_key, first_secret = KEY.search(made.text).group(1), SECRET.search(made.text).group(1)
    listing = admin.get("/admin/institutions").text
    assert first_key in listing
    assert first_secret not in listing

    system = FakeHospital(app.test_client(), first_key, first_secret)
    assert system.send("HIS-1").status_code == 201
    rotated = post(admin, "/admin/institutions/fy-his/rotate", {}, form_page="/admin/institutions")
    second = FakeHospital(app.test_client(), KEY.search(rotated.text).group(1), SECRET.search(rotated.text).group(1))
    assert second.send("HIS-2").status_code == 201
    assert system.send("HIS-3").status_code == 201  # both keys work until one is revoked
    revoked = post(admin, f"/admin/institutions/keys/{first_key}/revoke", {}, form_page="/admin/institutions")
    assert revoked.status_code == 303
    assert system.send("HIS-4").status_code == 401
    assert second.send("HIS-5").status_code == 201


def test_another_offices_admin_finds_nothing_and_a_prosecutor_is_refused(app, logged_in):  # noqa: F811 - fixture
    create_unit("fy-unit2", name="县医院")
    db.session.commit()
    admin, _ = logged_in("admin")
    made = post(admin, "/admin/institutions", {"code": "xy-his", "name": "县医院HIS", "unit": "fy-unit2"},
                form_page="/admin/institutions")
    key = KEY.search(made.text).group(1)
    elsewhere, _ = logged_in("admin", office=create_office())
    assert "xy-his" not in elsewhere.get("/admin/institutions").text
    assert post(elsewhere, "/admin/institutions/xy-his/rotate", {}, form_page="/admin/institutions").status_code == 404
    assert post(elsewhere, f"/admin/institutions/keys/{key}/revoke", {},
                form_page="/admin/institutions").status_code == 404
    prosecutor, _ = logged_in("prosecutor")
    assert prosecutor.get("/admin/institutions").status_code == 403


def test_registration_rotation_and_revocation_are_held_through_step_up_and_carried_out_after_the_code(app):
    from tests.review.detail_helpers import a_minute_passes, age_step_up, person, step_up

    create_unit("held-unit", name="乡镇卫生院")
    db.session.commit()
    admin = person(app, role="admin")
    age_step_up(admin)
    held = post(admin.client, "/admin/institutions", {"code": "held-his", "name": "卫生院HIS", "unit": "held-unit",
                                                      "next": "/admin/institutions"}, form_page="/admin/institutions")
    assert held.headers["Location"].startswith("/account/step-up")
    assert "held-his" not in admin.client.get("/admin/institutions").text
    a_minute_passes(admin)
    done = step_up(admin, "/admin/institutions")
    assert done.status_code == 200
    key = KEY.search(done.text).group(1)
    assert SECRET.search(done.text)

    for path in ("/admin/institutions/held-his/rotate", f"/admin/institutions/keys/{key}/revoke"):
        age_step_up(admin)
        asked = post(admin.client, path, {"next": "/admin/institutions"}, form_page="/admin/institutions")
        assert asked.headers["Location"].startswith("/account/step-up"), path
        a_minute_passes(admin)
        assert step_up(admin, "/admin/institutions").status_code in (200, 303), path
    listing = admin.client.get("/admin/institutions").text
    assert listing.count("data-key-id=") == 2
    assert "已注销" in listing
