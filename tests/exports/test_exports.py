"""Exports as jobs: asking answers at once with the export page (nothing is written in the request), the runner
writes the file sealed as the rows stream, asking twice runs once, only the asker sees or fetches it, the file and
its key go once fetched or expired, a failed or forbidden export says so, and a runner that died is replaced."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
import uuid
import zipfile
from pathlib import Path

import pytest
from flask import Flask, current_app
from sqlalchemy import func, select, text, update

from app.crypto.models import DataKey
from app.crypto.vault import get_vault
from app.exports import kinds, runner, service
from app.exports.models import FAILED, GONE, QUEUED, READY, RUNNING, Export
from app.extensions import db
from tests.factories import create_report, exported
from tests.review.detail_helpers import make_cast, step_up

crew = pytest.fixture(make_cast)
MARKER_PHONE = "13800000000"  # the factory's reporter
DEADLINE = 60.0  # seconds a test waits for the runner thread before it fails with a diagnosis


def settings():
    return current_app.config["QZBG"]


def run_all(owner: str = "test-runner", clock=None) -> int:
    ran = 0
    while service.run_next(owner=owner, settings=settings(), vault=get_vault(),
                           clock=clock or (lambda: dt.datetime.now(dt.UTC))):
        ran += 1
    return ran


def exports() -> list[Export]:
    db.session.expire_all()
    return list(db.session.scalars(select(Export).order_by(Export.created_at)))


def page_of(client, location: str) -> str:
    answer = client.get(location)
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True)


def test_asking_answers_the_export_page_at_once_and_writes_nothing_in_the_request(crew):
    create_report()
    answer = crew.prosecutor.client.get("/review/stats.xlsx")
    assert answer.status_code == 303
    assert re.fullmatch(r"/exports/[0-9a-f-]{36}", answer.headers["Location"])
    (export,) = exports()
    assert (export.state, export.storage_name) == (QUEUED, None)
    page = page_of(crew.prosecutor.client, answer.headers["Location"])
    assert 'data-field="download"' not in page
    assert "排队等待中" in page
    assert '<progress id="export-progress"' in page


def test_asking_twice_runs_once_and_asking_after_the_download_runs_again(crew):
    create_report()
    client = crew.prosecutor.client
    first = client.get("/review/stats.xlsx?from=2026-01-01&to=2026-12-31").headers["Location"]
    again = client.get("/review/stats.xlsx?from=2026-01-01&to=2026-12-31").headers["Location"]
    assert first == again
    other = client.get("/review/stats.xlsx?from=2026-02-01&to=2026-12-31").headers["Location"]
    assert other != first
    assert run_all() == 2
    assert client.get("/review/stats.xlsx?from=2026-01-01&to=2026-12-31").headers["Location"] == first  # ready
    assert run_all() == 0
    assert exported(client, "/review/stats.xlsx?from=2026-01-01&to=2026-12-31").data[:2] == b"PK"  # fetched
    assert [e.state for e in exports()] == [GONE, READY]
    new = client.get("/review/stats.xlsx?from=2026-01-01&to=2026-12-31").headers["Location"]
    assert new not in (first, other)


def test_only_the_asker_sees_or_fetches_an_export(crew):
    create_report()
    location = crew.prosecutor.client.get("/review/stats.xlsx").headers["Location"]
    run_all()
    for stranger in (crew.lead, crew.other_office, crew.police):
        for path in (location, location + "/status", location + "/download"):
            assert stranger.client.get(path).status_code == 404, (stranger.user.role, path)
    assert crew.prosecutor.client.get(f"/exports/{uuid.uuid4()}").status_code == 404
    assert crew.prosecutor.client.get("/exports/not-a-uuid/download").status_code == 404
    assert exports()[0].state == READY  # nobody else's look fetched it


def test_the_file_is_sealed_at_rest_and_gone_with_its_key_once_fetched(crew):
    create_report(victim={"name": "欧阳娜娜"})
    client = crew.prosecutor.client
    assert step_up(crew.prosecutor, "/review/register.xlsx").status_code == 303
    location = client.get("/review/register.xlsx").headers["Location"]
    run_all()
    (export,) = exports()
    stored = settings().exports_dir / export.storage_name
    sealed = stored.read_bytes()
    assert sealed[:2] != b"PK"  # not the workbook in clear
    for marker in (MARKER_PHONE.encode(), "欧阳娜娜".encode()):
        assert marker not in sealed
    key_id = export.data_key_id
    download = client.get(re.search(r'data-field="download" href="([^"]+)"', page_of(client, location)).group(1))
    assert download.status_code == 200
    with zipfile.ZipFile(io.BytesIO(download.data)) as package:
        inside = "".join(package.read(name).decode("utf-8", "replace") for name in package.namelist())
    assert MARKER_PHONE in inside
    assert "欧阳娜娜" in inside
    assert not stored.exists()
    (export,) = exports()
    assert (export.state, export.data_key_id, export.params_data) == (GONE, None, None)
    assert db.session.get(DataKey, key_id) is None
    assert "已下载或已过期" in page_of(client, location)
    assert client.get(location + "/download").status_code == 404


def test_what_was_searched_is_sealed_in_the_export_row(crew):
    create_report()
    assert step_up(crew.prosecutor, f"/review/inbox.xlsx?q={MARKER_PHONE}").status_code == 303
    assert crew.prosecutor.client.get(f"/review/inbox.xlsx?q={MARKER_PHONE}").status_code == 303
    rows = db.session.execute(text("SELECT * FROM exports")).all()
    assert len(rows) == 1
    assert MARKER_PHONE not in repr(rows)
    assert MARKER_PHONE.encode() not in b"".join(
        value for row in rows for value in row if isinstance(value, bytes))
    assert exports()[0].unseal("params_data") == {"q": MARKER_PHONE}


def test_an_export_not_fetched_in_time_is_deleted_by_the_sweep(crew):
    create_report()
    location = crew.prosecutor.client.get("/review/stats.xlsx").headers["Location"]
    run_all()
    (export,) = exports()
    stored = settings().exports_dir / export.storage_name
    assert stored.exists()
    assert service.sweep(export.expires_at - dt.timedelta(seconds=1), exports_dir=settings().exports_dir) == 0
    assert service.sweep(export.expires_at, exports_dir=settings().exports_dir) == 1
    db.session.commit()
    assert not stored.exists()
    assert exports()[0].state == GONE
    assert crew.prosecutor.client.get(location + "/download").status_code == 404
    assert service.sweep(export.created_at + dt.timedelta(days=31), exports_dir=settings().exports_dir) == 0
    db.session.commit()
    assert exports() == []  # the record too, a month on


def failing_writer(work: kinds.Work):
    yield b"partial"
    raise RuntimeError("the writer broke")


def test_a_failing_writer_leaves_no_file_and_the_page_says_so(crew, monkeypatch):
    monkeypatch.setitem(kinds.KINDS, "stats", kinds.Kind("stats", "review.stats", failing_writer))
    location = crew.prosecutor.client.get("/review/stats.xlsx").headers["Location"]
    run_all()
    (export,) = exports()
    assert (export.state, export.error, export.data_key_id) == (FAILED, "RuntimeError", None)
    directory = settings().exports_dir
    assert not directory.exists() or list(directory.iterdir()) == []
    assert 'data-field="export_failed"' in page_of(crew.prosecutor.client, location)


def test_an_asker_who_lost_the_permission_before_the_run_gets_nothing(crew):
    create_report()
    crew.prosecutor.client.get("/review/stats.xlsx")
    crew.prosecutor.user.role = "police"  # moved to a role without the statistics
    db.session.commit()
    run_all()
    (export,) = exports()
    assert (export.state, export.error, export.storage_name) == (FAILED, "forbidden", None)


def test_a_runner_that_died_mid_export_is_replaced_once_its_lease_runs_out(crew):
    create_report()
    crew.prosecutor.client.get("/review/stats.xlsx")
    start = dt.datetime.now(dt.UTC)
    assert service._claim("dead-runner", start) is not None  # took it, then died
    assert run_all(clock=lambda: start + dt.timedelta(minutes=5)) == 0  # its lease still holds
    assert exports()[0].state == RUNNING
    assert run_all(clock=lambda: start + service.LEASE + dt.timedelta(seconds=1)) == 1
    (export,) = exports()
    assert (export.state, export.attempts) == (READY, 2)


def test_the_progress_shows_on_the_page_and_in_its_status(crew):
    create_report()
    location = crew.prosecutor.client.get("/review/stats.xlsx").headers["Location"]
    db.session.execute(update(Export).values(state=RUNNING, done=250, total=1000))
    db.session.commit()
    status = crew.prosecutor.client.get(location + "/status").json
    assert status == {"state": "running", "percent": 25, "done": 250, "total": 1000}
    page = page_of(crew.prosecutor.client, location)
    assert 'value="25"' in page
    assert "共 1000 行" in page


def test_the_worker_loop_writes_an_export_while_the_request_has_long_returned(crew, app: Flask):
    create_report()
    location = crew.prosecutor.client.get("/review/stats.xlsx").headers["Location"]
    db.session.commit()
    stop = threading.Event()
    thread = threading.Thread(target=runner.loop, args=(app, stop, "loop-under-test"), daemon=True)
    thread.start()
    try:
        waited = threading.Event()
        for _ in range(int(DEADLINE * 10)):
            db.session.rollback()
            if db.session.scalar(select(func.count()).select_from(Export).where(Export.state == READY)):
                waited.set()
                break
            stop.wait(0.1)
        assert waited.is_set(), f"the runner did not finish the export in {DEADLINE} s: {exports()[0].state}"
    finally:
        stop.set()
        thread.join(DEADLINE)
    assert not thread.is_alive()
    assert 'data-field="download"' in page_of(crew.prosecutor.client, location)


def test_the_exports_directory_is_a_setting(make_app, tmp_path: Path):
    make_app(exports_dir=tmp_path / "elsewhere")
    assert current_app.config["QZBG"].exports_dir == tmp_path / "elsewhere"


def test_the_inbox_export_reports_the_rows_written_so_far(crew, monkeypatch):
    from app.review import routes as review_routes

    monkeypatch.setattr(review_routes, "EXPORT_PROGRESS_EVERY", 2)
    for _ in range(5):
        create_report()
    assert step_up(crew.prosecutor, "/review/inbox.xlsx").status_code == 303
    crew.prosecutor.client.get("/review/inbox.xlsx")
    run_all()
    (export,) = exports()
    assert (export.state, export.done, export.total) == (READY, 4, None)  # reported after rows 2 and 4


def test_a_file_gone_or_tampered_with_is_a_clear_404_never_a_500(crew):
    create_report()
    client = crew.prosecutor.client
    first = client.get("/review/stats.xlsx?from=2026-01-01&to=2026-06-30").headers["Location"]
    second = client.get("/review/stats.xlsx?from=2026-07-01&to=2026-12-31").headers["Location"]
    run_all()
    gone, changed = exports()
    (settings().exports_dir / gone.storage_name).unlink()
    path = settings().exports_dir / changed.storage_name
    sealed = bytearray(path.read_bytes())
    sealed[-1] ^= 1
    path.write_bytes(bytes(sealed))
    for location in (first, second):
        answer = client.get(location + "/download")
        assert answer.status_code == 404, location
        assert "请重新导出" in answer.get_data(as_text=True)
