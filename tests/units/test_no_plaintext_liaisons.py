"""Liaison names and phone numbers, typed on the form or imported from a sheet, never stand in clear in the
database or the logs; audit entries name the unit's code and the liaison's id, nothing personal."""

from __future__ import annotations

from tests.test_no_plaintext import find_leaks, marker, phone_marker, storage_bytes
from tests.units.conftest import xlsx
from tests.units.helpers import form_post
from tests.units.test_import import upload


def test_liaison_names_and_phones_never_reach_the_database_or_the_logs_in_clear(app, admin, backend_name, caplog,
                                                                                capfd):
    from app.extensions import db

    client, _ = admin
    typed_name, typed_phone = marker("联络人"), phone_marker()
    sheet_name, sheet_phone = marker("导入联络人"), phone_marker()
    edited_name, edited_phone = marker("改后联络人"), phone_marker()
    answer = form_post(client, "/admin/units/new", {"code": "hosp-1", "name": "某医院", "type": "hospital",
                                                     "liaison_name": typed_name, "liaison_phone": typed_phone})
    assert answer.status_code == 303
    unit_page = answer.headers["Location"].split("?")[0]
    assert upload(client, xlsx([["sch-1", "某小学", "school", None, None, None, sheet_name, sheet_phone]]),
                  "u.xlsx").status_code == 303
    added = form_post(client, f"{unit_page}/liaisons/new", {"name": edited_name, "phone": edited_phone})
    assert added.status_code == 303
    text = client.get(unit_page).get_data(as_text=True)
    assert typed_name in text
    assert edited_phone in text
    assert client.get(f"/admin/units?q={sheet_phone}").status_code == 200
    db.session.remove()
    db.engine.dispose()
    markers = [typed_name, typed_phone, sheet_name, sheet_phone, edited_name, edited_phone]
    logs = "\n".join(r.getMessage() + str(vars(r)) for r in caplog.records) + "".join(capfd.readouterr())
    leaks = find_leaks({"database": storage_bytes(app, backend_name), "logs": logs.encode("utf-8")}, markers)
    assert leaks == []
