"""Nothing personal in clear: unique markers in every personal field never reach storage or logs.

Markers go in through the JSON API and the web form, with an attachment; then
the raw SQLite files (WAL included) or a pg_dump, the attachments directory and
every captured log line are searched for each of them.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.extensions import db
from tests.factories import CST, report_body, valid_id_number


def marker(prefix: str) -> str:
    return f"{prefix}标记{secrets.token_hex(5)}"


def phone_marker() -> str:
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


def personal_markers() -> dict[str, str]:
    born = dt.date.today().replace(year=dt.date.today().year - 10)
    return {
        "reporter.name": marker("报告人"),
        "reporter.phone": phone_marker(),
        "reporter.position": marker("职务"),
        "victim.name": marker("被害人"),
        "victim.id_number": valid_id_number(born, serial=f"{secrets.randbelow(900) + 100}"),
        "victim.address": marker("住址"),
        "victim.guardian_name": marker("监护人"),
        "victim.guardian_phone": phone_marker(),
        "incident.location": marker("地点"),
        "incident.description": marker("经过") + "，孩子身上有多处伤痕。",
        "suspect.name": marker("嫌疑人"),
        "suspect.relation": marker("关系"),
        "suspect.description": marker("描述"),
        "police.station": marker("派出所"),
    }


def json_body(markers: dict[str, str]) -> dict:
    body = report_body(victim={"age": None})
    for path, value in markers.items():
        section, field = path.split(".")
        body[section][field] = value
    return body


def png_with(text: str) -> bytes:
    """A real PNG (photos must decode) whose pixel bytes are the marker, uncompressed and unfiltered."""
    from PIL import Image

    raw = text.encode() * 4
    image = Image.frombytes("P", (len(raw), 1), raw)
    image.putpalette([level for i in range(256) for level in (i, i, i)])
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=0)
    assert raw in out.getvalue()
    return out.getvalue()


def storage_bytes(app, backend_name: str) -> bytes:
    """Everything the database holds, as raw bytes."""
    if backend_name == "sqlite":
        path = Path(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.fail("pg_dump is needed to search the PostgreSQL data (apt-get install postgresql-client)")
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    return subprocess.run(
        [pg_dump, "--data-only", "--no-owner", url.render_as_string(hide_password=False)],
        check=True, capture_output=True, timeout=120,
    ).stdout


def attachment_bytes(app) -> bytes:
    directory = app.config["QZBG"].attachments_dir
    return b"".join(p.read_bytes() for p in directory.rglob("*") if p.is_file())


def find_leaks(haystacks: dict[str, bytes], markers: list[str]) -> list[tuple[str, str]]:
    leaks = []
    for where, data in haystacks.items():
        for m in markers:
            # As text, JSON-escaped, UTF-16, and hex (how pg_dump prints bytea).
            raw = m.encode("utf-8")
            forms = {raw, m.encode("unicode_escape"), m.encode("utf-16-le"), raw.hex().encode()}
            if any(form in data for form in forms):
                leaks.append((where, m))
    return leaks


def test_no_personal_marker_reaches_database_files_or_logs(app, client, reporter, backend_name, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    db.session.commit()
    api_markers = personal_markers()
    created = client.post("/api/v1/reports", json=json_body(api_markers), headers=reporter.headers)
    assert created.status_code == 201, created.json
    file_marker = marker("附件内容")
    name_marker = marker("附件名")
    uploaded = client.post(
        f"/api/v1/reports/{created.json['id']}/attachments",
        data={"file": (io.BytesIO(png_with(file_marker)), f"{name_marker}.png", "image/png")},
        headers=reporter.headers, content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.json

    web_markers = personal_markers()
    page = client.get("/report").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form_key = re.search(r'name="form_key" value="([^"]+)"', page).group(1)
    discovered = (dt.datetime.now(CST) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    web_file_marker, web_name_marker = marker("网页附件"), marker("网页附件名")
    form = {
        "csrf_token": csrf, "form_key": form_key, "categories": ["abandonment"], "urgent": "0",
        "victim.gender": "male", "incident.discovered_at": discovered, "police.notified": "1",
        **web_markers,
        "files": (io.BytesIO(png_with(web_file_marker)), f"{web_name_marker}.png", "image/png"),
    }
    posted = client.post("/report", data=form, content_type="multipart/form-data")
    assert posted.status_code == 303, posted.get_data(as_text=True)[:2000]
    receipt = client.get(posted.headers["Location"])
    assert receipt.status_code == 200

    # The markers really went in: the reporter reads them back decrypted.
    view = client.get(f"/api/v1/reports/{created.json['id']}", headers=reporter.headers).json
    assert view["victim"]["name"] == api_markers["victim.name"]
    assert view["attachments"][0]["filename"] == f"{name_marker}.png"

    db.session.remove()
    db.engine.dispose()  # SQLite: make sure nothing sits only in a connection
    out, err = capfd.readouterr()
    logs = "\n".join(logging.Formatter("%(message)s %(args)s").format(r) + repr(r.__dict__) for r in caplog.records)
    haystacks = {
        "database": storage_bytes(app, backend_name),
        "attachments": attachment_bytes(app),
        "logs": (logs + out + err).encode("utf-8"),
        "urls": posted.headers["Location"].encode(),
    }
    everything = [
        *api_markers.values(), *web_markers.values(), file_marker, name_marker, web_file_marker, web_name_marker,
    ]
    assert len(haystacks["database"]) > 5_000
    assert len(haystacks["attachments"]) > 0
    assert find_leaks(haystacks, everything) == []


def test_the_search_would_find_a_marker_stored_in_clear(app, backend_name):
    """The leak search is not vacuous: a marker written in clear on purpose is found."""
    leak = marker("明文")
    db.session.execute(db.text("UPDATE tracking_counters SET last = last"))  # a write transaction
    db.session.execute(db.text("INSERT INTO units (code, name, type, active, created_at, updated_at) "
                               "VALUES (:c, :n, 'other', true, :t, :t)"),
                       {"c": "leak-1", "n": leak, "t": dt.datetime.now(dt.UTC)})
    db.session.commit()
    db.session.remove()
    db.engine.dispose()
    assert find_leaks({"database": storage_bytes(app, backend_name)}, [leak]) == [("database", leak)]


def test_staff_typed_document_and_case_numbers_are_sealed(app, backend_name):
    """文号 and 案号 are free text a prosecutor or police officer types (a name or an ID number may be in them):
    they are stored sealed, and the report page still shows them."""
    from flask import current_app

    from app.core.actor import Actor
    from app.notify.service import Outbound
    from app.offices.models import PoliceUnit
    from app.reports.records import Transfer
    from app.review import service as review
    from tests.factories import create_report, create_staff

    document_no, case_no = marker("文号"), marker("案号")
    unit = PoliceUnit(code="pcs-sealed", name="封存派出所", office_id=1)
    db.session.add(unit)
    prosecutor = Actor.staff(create_staff(role="prosecutor"))
    report = create_report(status="reviewing")
    db.session.commit()
    now = dt.datetime.now(dt.UTC)
    outbound = Outbound.of(current_app.config["QZBG"])
    record = review.transfer(report, police_unit="pcs-sealed", document_no=document_no, contact=None,
                             share_reporter=False, note=None, actor=prosecutor, version=report.version, now=now,
                             deadlines=review.Deadlines(), outbound=outbound)
    review.record_feedback(report, outcome="filed", case_no=case_no, decided_at=None, note=None, actor=prosecutor,
                           version=report.version, now=now, outbound=outbound)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Transfer, record.id)
    assert (stored.unseal("document_no_data"), stored.unseal("case_no_data")) == (document_no, case_no)
    db.session.remove()
    db.engine.dispose()
    assert find_leaks({"database": storage_bytes(app, backend_name)}, [document_no, case_no]) == []
