import datetime as dt
from tests.auth.conftest import login
from tests.factories import create_report, create_staff, create_unit
from app.extensions import db

def test_page(app):
    unit = create_unit()
    for s in ("new", "reviewing", "closed"):
        create_report(status=s, unit=unit)
    user = create_staff(role="prosecutor"); db.session.commit()
    c = app.test_client(); assert login(c, user).status_code == 303
    r = c.get("/review/stats")
    print(r.status_code, r.get_data(as_text=True)[:200])
    assert r.status_code == 200
    open("/tmp/stats10b.html","w").write(r.get_data(as_text=True))
    r = c.get("/review/stats.xlsx"); assert r.status_code == 200, r.get_data(as_text=True)[:3000]
    r = c.get("/review/stats/meeting"); assert r.status_code == 200
