"""The one staff layout: every staff page names the user's office, the user and the role, and has a logout form."""

from __future__ import annotations

import re

import pytest

from tests.factories import create_office
from tests.reports.test_web import parse

PAGES = {"admin": "/admin/users", "prosecutor": "/review/", "lead": "/review/stats", "police": "/review/",
         "unit_liaison": "/unit/"}


@pytest.mark.parametrize("role", sorted(PAGES))
def test_every_staff_page_shows_office_user_role_and_a_logout_form(app, logged_in, role):
    from app.auth.models import ROLES

    office = create_office("north", "北区人民检察院")
    client, user = logged_in(role, office=office, display_name="测试用户")
    for path in (PAGES[role], "/account/sessions", "/account/password"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        doc = parse(answer.text)
        header = doc.find("header")
        assert "北区人民检察院" in header.text(), path
        assert header.find(data_field="staff_user").text() == "测试用户"
        assert ROLES[role] in header.text()
        logout = header.find("form", method="post", action="/logout")
        assert logout.find("input", name="csrf_token").attrs["value"]
        assert doc.find("html").attrs["lang"] == "zh-CN"
        assert not re.search(r"(?:src|href)=\"(?:https?:)?//", answer.text)
