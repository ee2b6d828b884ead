"""Offices with their districts, and police units imported all or nothing."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.extensions import db
from app.offices import queries
from app.offices.models import Office, PoliceUnit


def test_the_migrations_make_one_default_office(app):
    office = queries.default_office()
    assert office.is_default
    assert office.code == "default"


def test_offices_add_creates_an_office_with_its_districts(runner):
    result = runner.invoke(args=["offices", "add", "liuyang", "浏阳市人民检察院", "--districts",
                                 "430181:浏阳市,430182"])
    assert result.exit_code == 0, result.output
    office = db.session.scalars(select(Office).where(Office.code == "liuyang")).one()
    assert [(d.code, d.name) for d in office.districts] == [("430181", "浏阳市"), ("430182", "430182")]
    assert queries.office_for_district("430181").code == "liuyang"
    assert queries.office_for_district("999999").is_default


def test_a_district_cannot_belong_to_two_offices(runner):
    assert runner.invoke(args=["offices", "add", "a", "甲院", "--districts", "430181"]).exit_code == 0
    result = runner.invoke(args=["offices", "add", "b", "乙院", "--districts", "430181"])
    assert result.exit_code != 0
    assert "430181" in result.output
    assert db.session.scalars(select(Office).where(Office.code == "b")).first() is None


def test_bad_district_codes_are_refused(runner):
    result = runner.invoke(args=["offices", "add", "c", "丙院", "--districts", "43018x"])
    assert result.exit_code != 0


def test_police_units_import_from_csv(runner, tmp_path):
    path = tmp_path / "police.csv"
    path.write_text("code,name,district_code,active\npcs-001,城北派出所,430181,1\nxz-01,刑侦大队,,1\n",
                    encoding="utf-8")
    result = runner.invoke(args=["police-units", "import", str(path)])
    assert result.exit_code == 0, result.output
    units = db.session.scalars(select(PoliceUnit).order_by(PoliceUnit.code)).all()
    assert [(u.code, u.name, u.office.is_default) for u in units] == [("pcs-001", "城北派出所", True),
                                                                       ("xz-01", "刑侦大队", True)]


def test_police_units_import_with_any_bad_row_changes_nothing(runner, tmp_path):
    path = tmp_path / "police.json"
    path.write_text(json.dumps([
        {"code": "pcs-002", "name": "城南派出所"},
        {"code": "bad code!", "name": "x"},
        {"code": "pcs-003", "name": "城东派出所", "office": "nowhere"},
    ], ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["police-units", "import", str(path)])
    assert result.exit_code != 0
    assert "第2行" in result.output
    assert "第3行" in result.output
    assert db.session.scalars(select(PoliceUnit)).all() == []


def test_police_units_can_belong_to_another_office(runner, tmp_path):
    runner.invoke(args=["offices", "add", "north", "北院", "--districts", "430299"])
    path = tmp_path / "police.csv"
    path.write_text("code,name,district_code,active,office\npcs-9,北站派出所,430299,1,north\n", encoding="utf-8")
    assert runner.invoke(args=["police-units", "import", str(path)]).exit_code == 0
    assert db.session.scalars(select(PoliceUnit)).one().office.code == "north"


def test_an_active_cell_is_read_strictly(runner, tmp_path):
    path = tmp_path / "police.csv"
    path.write_text("code,name,district_code,active\np1,甲所,,FALSE\np2,乙所,,否\np3,丙所,,\np4,丁所,,yes\n",
                    encoding="utf-8")
    assert runner.invoke(args=["police-units", "import", str(path)]).exit_code == 0
    units = {u.code: u.active for u in db.session.scalars(select(PoliceUnit))}
    assert units == {"p1": False, "p2": False, "p3": True, "p4": True}
    path.write_text("code,name,district_code,active\np5,戊所,,nein\n", encoding="utf-8")
    result = runner.invoke(args=["police-units", "import", str(path)])
    assert result.exit_code != 0
    assert db.session.scalars(select(PoliceUnit).where(PoliceUnit.code == "p5")).first() is None
