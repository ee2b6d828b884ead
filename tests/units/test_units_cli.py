"""``flask units import`` loads member units from CSV or JSON, all rows or none."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.extensions import db
from app.units.models import Unit


def test_units_import_creates_and_updates_units_from_csv(runner, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(
        "code,name,type,district_code,active\nhosp-1,市第一人民医院,hospital,330102,1\nsch-2,实验小学,school,,1\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output
    path.write_text("code,name,type\nhosp-1,市第一人民医院（东院）,hospital\n", encoding="utf-8")
    assert "1 updated" in runner.invoke(args=["units", "import", str(path)]).output
    names = dict(db.session.execute(select(Unit.code, Unit.name)).all())
    assert names == {"hosp-1": "市第一人民医院（东院）", "sch-2": "实验小学"}


def test_units_import_refuses_a_file_with_a_bad_row_and_stores_nothing(runner, tmp_path):
    path = tmp_path / "units.json"
    path.write_text(
        json.dumps([
            {"code": "ok-1", "name": "好单位", "type": "clinic"},
            {"code": "含中文%", "name": "坏单位", "type": "clinic"},
        ], ensure_ascii=False),
        encoding="utf-8",
    )
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code != 0
    assert "第2行" in result.output
    assert db.session.scalars(select(Unit)).all() == []


def test_unit_type_must_be_a_contract_code(runner, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("code,name,type\nx-1,某单位,prison\n", encoding="utf-8")
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code != 0
    assert db.session.scalars(select(Unit)).all() == []


def test_units_import_without_wechat_configured_imports_and_says_codes_were_not_fetched(runner, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("code,name,type\nhosp-9,某医院,hospital\n", encoding="utf-8")
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 created" in result.output
    assert "not configured" in result.output
    assert db.session.scalars(select(Unit.code)).all() == ["hosp-9"]
