"""The import template (.xlsx): a sheet to fill in (the header row and one example row), the unit type codes,
and a sheet saying what each column takes. The columns are those ``flask units import`` and the upload page read
(``app.units.schemas.IMPORT_HEADERS``)."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from app.units.models import UNIT_TYPES
from app.units.schemas import IMPORT_HEADERS, REQUIRED_COLUMNS
from app.units.service import EXAMPLE_CODE

DATA_SHEET, TYPES_SHEET, HELP_SHEET = "成员单位", "单位类型", "填写说明"
EXAMPLE = {
    "code": EXAMPLE_CODE, "name": "示例：市第一人民医院", "type": "hospital", "district_code": "430102",
    "address": "示例：某某路1号", "active": "是", "liaison_name": "示例：张三", "liaison_phone": "13800000000",
}
HELP = {
    "code": "必填。1至32个英文字母、数字或 -_. 等符号；也是小程序码的 scene，建成后不再更改",
    "name": "必填。单位全称，最多100字",
    "type": "必填。单位类型的代码或名称，见“单位类型”表",
    "district_code": "选填。6至12位数字的行政区划代码",
    "address": "选填。单位地址，最多200字",
    "active": "选填。是/否，空白为“是”",
    "liaison_name": "选填。联络人姓名（加密保存）；与电话同时填写",
    "liaison_phone": "选填。11位手机号或带区号的固定电话（加密保存）",
}


def template_xlsx() -> bytes:
    """The template workbook's bytes. The data sheet comes first: the import reads the first sheet."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = DATA_SHEET
    keys = list(IMPORT_HEADERS.values())
    labels = {key: label for label, key in IMPORT_HEADERS.items()}
    sheet.append([labels[k] + ("*" if k in REQUIRED_COLUMNS else "") for k in keys])
    sheet.append([EXAMPLE[k] for k in keys])
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="FFF2CC")
    for cell in sheet[1]:
        cell.font = bold
    for cell in sheet[2]:
        cell.fill = fill
    for column, width in zip("ABCDEFGH", (16, 30, 24, 14, 30, 10, 14, 16), strict=True):
        sheet.column_dimensions[column].width = width
    for column in ("A", "D", "H"):  # codes and numbers stay text: no 1.3E+10, no lost leading zero
        for row in range(2, 1002):
            sheet[f"{column}{row}"].number_format = "@"
    sheet.freeze_panes = "A2"
    types = workbook.create_sheet(TYPES_SHEET)
    types.append(["代码", "名称"])
    for code, label in UNIT_TYPES.items():
        types.append([code, label])
    types.column_dimensions["A"].width, types.column_dimensions["B"].width = 26, 28
    for cell in types[1]:
        cell.font = bold
    choose = DataValidation(type="list", formula1=f"='{TYPES_SHEET}'!$A$2:$A${len(UNIT_TYPES) + 1}",
                            allow_blank=False, showErrorMessage=False)
    choose.add("C2:C1001")
    sheet.add_data_validation(choose)
    help_sheet = workbook.create_sheet(HELP_SHEET)
    help_sheet.append(["列", "说明"])
    for key in keys:
        help_sheet.append([labels[key], HELP[key]])
    help_sheet.append([])
    help_sheet.append(["注意", f"第2行是示例（代码 {EXAMPLE_CODE}），导入前请删除或改为真实单位。"
                               "文件中任何一行有误时，不会导入任何单位，并列出每一行的问题。"])
    help_sheet.column_dimensions["A"].width, help_sheet.column_dimensions["B"].width = 14, 80
    for cell in help_sheet[1]:
        cell.font = bold
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
