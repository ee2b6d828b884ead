"""Bulk import of member units from .xlsx or .csv, on the upload page and with ``flask units import``: all rows
or none, every bad row listed with its row number and reason; the template opens and imports once filled in."""

from __future__ import annotations

import io
import re
import zipfile

from openpyxl import load_workbook
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from app.extensions import db
from app.units.models import UNIT_TYPES, UnitLiaison
from tests.auth.conftest import csrf_of
from tests.factories import create_office, create_unit
from tests.units.conftest import xlsx
from tests.units.helpers import audit_actions, form_post, units

GOOD_ROWS = [
    ["hosp-1", "市第一人民医院", "hospital", 430102, "人民路1号", "是", "王联络", "13812345678"],
    ["sch-1", "实验小学", "中小学校", "430103", None, None, None, None],  # the type by its label
    ["kg-1", "阳光幼儿园", "kindergarten", None, None, "否", None, None],
]


def upload(client, data: bytes, filename: str, content_type: str = "application/octet-stream"):
    """The upload form as a browser posts it; the body is built in memory (the test client spools big bodies
    to temporary files it never closes)."""
    fields = MultiDict({"csrf_token": csrf_of(client, "/admin/units/import"),
                        "file": FileStorage(io.BytesIO(data), filename, "file", content_type)})
    boundary, body = encode_multipart(fields)
    return client.post("/admin/units/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def bad_rows(answer) -> dict[int, str]:
    text = answer.get_data(as_text=True)
    return {int(n): re.sub(r"<[^>]+>", " ", body) for n, body in
            re.findall(r'<tr data-bad-row="(\d+)">(.*?)</tr>', text, re.S)}


def test_an_xlsx_upload_creates_and_updates_units_with_their_liaisons(admin):
    client, _ = admin
    create_unit("kg-1", name="旧名幼儿园", type="kindergarten")
    db.session.commit()
    answer = upload(client, xlsx(GOOD_ROWS), "单位.xlsx")
    assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
    assert answer.headers["Location"] == "/admin/units?created=2&updated=1"
    assert "导入完成：新建 2 个单位，更新 1 个单位" in client.get(answer.headers["Location"]).get_data(as_text=True)
    found = units()
    assert (found["hosp-1"].district_code, found["hosp-1"].address) == ("430102", "人民路1号")
    assert found["sch-1"].type == "school"
    assert (found["kg-1"].name, found["kg-1"].active) == ("阳光幼儿园", False)
    liaison = db.session.scalars(select(UnitLiaison)).one()
    assert (liaison.unseal("name_data"), liaison.unseal("phone_data")) == ("王联络", "13812345678")
    assert audit_actions()[-2:] == ["unit.liaison.add", "units.import"]
    # The same file again: nothing new, the liaison (same phone) is not added twice.
    assert upload(client, xlsx(GOOD_ROWS), "单位.xlsx").headers["Location"] == "/admin/units?created=0&updated=3"
    assert len(db.session.scalars(select(UnitLiaison)).all()) == 1


def test_an_xlsx_with_bad_rows_lists_every_one_and_imports_nothing(admin):
    client, _ = admin
    rows = [
        GOOD_ROWS[0],
        ["含 空格", "某单位", "hospital"],  # row 3: the code
        ["x-2", None, "prison", "12ab"],  # row 4: no name, unknown type, bad district
        GOOD_ROWS[1],
        ["hosp-1", "重复的医院", "hospital"],  # row 6: a code already in row 2
        ["x-3", "某诊所", "clinic", None, None, "也许", "李四", None],  # row 7: active, half a liaison
        [None, None, None],  # a blank row: skipped, never reported
    ]
    answer = upload(client, xlsx(rows), "units.xlsx")
    assert answer.status_code == 422
    text = answer.get_data(as_text=True)
    assert "有4行有误，未导入任何单位" in text
    found = bad_rows(answer)
    assert sorted(set(found)) == [3, 4, 6, 7]
    assert "单位代码须为" in found[3]
    assert "此项必填" in text
    assert "不是可选的值" in text
    assert "行政区划代码应为" in text
    assert "与第2行的单位代码重复" in found[6]
    assert "填写了联络人姓名" in text
    assert units() == {}
    assert "units.import" not in audit_actions()


def test_a_csv_upload_in_gb18030_from_a_chinese_excel_imports(admin):
    client, _ = admin
    data = "单位代码,单位名称,单位类型\nhosp-9,县人民医院,hospital\n".encode("gb18030")
    answer = upload(client, data, "units.csv", "text/csv")
    assert answer.status_code == 303
    assert units()["hosp-9"].name == "县人民医院"


def test_a_file_that_is_neither_xlsx_nor_csv_is_refused_next_to_the_field(admin):
    client, _ = admin
    for data, name in ((b"%PDF-1.4", "units.pdf"), (b"[]", "units.json"), (b"x", "units"),
                       (b"not a zip at all", "units.xlsx")):
        answer = upload(client, data, name)
        assert answer.status_code == 422, name
        assert re.search(r'data-error-for="file">[^<]*(只能导入|不是有效的)', answer.get_data(as_text=True)), name
    answer = form_post(client, "/admin/units/import", {}, content_type="multipart/form-data")
    assert answer.status_code == 422
    assert "请选择要导入的" in answer.get_data(as_text=True)
    assert units() == {}


def test_an_oversize_upload_is_refused_in_chinese(admin):
    client, _ = admin
    answer = upload(client, b"a" * (2 * 1024 * 1024 + 10), "units.csv")
    assert answer.status_code == 422
    assert "文件不能超过 2 MB" in answer.get_data(as_text=True)


def test_a_zip_bomb_dressed_as_xlsx_is_refused_before_it_is_unpacked(admin):
    client, _ = admin
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b"<" + b"a" * (70 * 1024 * 1024))
    assert len(out.getvalue()) < 2 * 1024 * 1024
    answer = upload(client, out.getvalue(), "units.xlsx")
    assert answer.status_code == 422
    assert "解压后过大" in answer.get_data(as_text=True)


def test_a_damaged_xlsx_and_unknown_columns_are_explained(admin):
    client, _ = admin
    good = xlsx(GOOD_ROWS)
    answer = upload(client, good[: len(good) // 2], "units.xlsx")
    assert answer.status_code == 422
    assert re.search("不是有效的|已损坏", answer.get_data(as_text=True))
    answer = upload(client, xlsx([["a-1", "某单位", "clinic", "x"]], header=["code", "name", "type", "密码"]),
                    "units.xlsx")
    assert answer.status_code == 422
    assert "不认识的列「密码」" in bad_rows(answer)[1]
    answer = upload(client, xlsx([["a-1"]], header=["code"]), "units.xlsx")
    assert "缺少必填的列「单位名称」" in answer.get_data(as_text=True)


def test_a_code_of_another_offices_unit_is_a_bad_row(admin):
    client, _ = admin
    north = create_office()
    theirs = create_unit("north-1", name="北区医院")
    theirs.office_id = north.id
    db.session.commit()
    answer = upload(client, xlsx([["north-1", "改名", "hospital"], ["mine-1", "本院单位", "clinic"]]), "u.xlsx")
    assert answer.status_code == 422
    assert "其他检察院的单位" in bad_rows(answer)[2]
    assert units()["north-1"].name == "北区医院"
    assert "mine-1" not in units()


def test_the_template_opens_with_openpyxl_and_imports_once_the_example_row_is_replaced(admin):
    client, _ = admin
    answer = client.get("/admin/units/template.xlsx")
    assert answer.status_code == 200
    assert answer.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in answer.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(answer.data))
    assert book.sheetnames == ["成员单位", "单位类型", "填写说明"]
    sheet = book["成员单位"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["单位代码*", "单位名称*", "单位类型*"]
    assert sheet["A2"].value == "EXAMPLE-001"
    types = {row[0]: row[1] for row in book["单位类型"].iter_rows(min_row=2, values_only=True)}
    assert types == UNIT_TYPES
    # Left as downloaded, the example row is refused...
    left = upload(client, answer.data, "模板.xlsx")
    assert left.status_code == 422
    assert "示例行" in bad_rows(left)[2]
    # ...filled in, it imports.
    for column, value in zip("ABCDEFGH", ["town-1", "城关镇社区居委会", "residents_committee", "430102", "",
                                          "是", "", ""], strict=True):
        sheet[f"{column}2"] = value or None
    out = io.BytesIO()
    book.save(out)
    assert upload(client, out.getvalue(), "模板.xlsx").status_code == 303
    assert units()["town-1"].type == "residents_committee"


def test_flask_units_import_reads_an_xlsx(runner, tmp_path):
    path = tmp_path / "units.xlsx"
    path.write_bytes(xlsx(GOOD_ROWS))
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 created" in result.output
    assert set(units()) == {"hosp-1", "sch-1", "kg-1"}


def test_flask_units_import_lists_every_bad_row_of_an_xlsx_and_imports_nothing(runner, tmp_path):
    path = tmp_path / "units.xlsx"
    path.write_bytes(xlsx([GOOD_ROWS[0], ["bad code", "某单位", "hospital"], ["x-2", None, "prison"]]))
    result = runner.invoke(args=["units", "import", str(path)])
    assert result.exit_code != 0
    assert "第3行「单位代码」" in result.output
    assert "第4行「单位名称」：此项必填" in result.output
    assert "第4行「单位类型」：不是可选的值" in result.output
    assert units() == {}
