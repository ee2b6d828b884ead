"""A staff page that is refused (403) or not there (404) is shown in the staff layout, with a link to the user's
own first page, not the public report form's."""

from __future__ import annotations


def test_a_staff_404_and_403_use_the_staff_layout_with_a_link_home(app, logged_in):
    client, _ = logged_in("prosecutor")
    missing = client.get("/review/reports/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert 'data-field="staff_user"' in missing.text
    assert 'data-link="home" href="/review/"' in missing.text or 'href="/review/" data-link="home"' in missing.text
    assert "找不到" in missing.text
    refused = client.get("/admin/users")
    assert refused.status_code == 403
    assert 'data-field="staff_user"' in refused.text
    assert "无权访问" in refused.text


def test_the_public_side_keeps_its_own_error_page(app, client):
    missing = client.get("/report/no-such-page")
    assert missing.status_code == 404
    assert 'data-field="staff_user"' not in missing.text
