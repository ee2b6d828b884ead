"""Registry imports shared by ``flask units import``, the units upload page and ``flask police-units import``:
the rows of a CSV, an .xlsx workbook or a JSON list, numbered as a person sees them, and create-or-update by
code. Checking the rows is each registry's own schema.

A workbook is read in openpyxl's read-only mode (rows streamed from the sheet XML) after its zip directory
is checked, so a small file that unpacks to gigabytes (a zip bomb) is refused before anything is unpacked.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.core.fields import csv_flag
from app.errors import ValidationError
from app.extensions import db

MAX_ROWS = 5000
MAX_UNPACKED_BYTES = 64 * 1024 * 1024  # what an .xlsx may unpack to
SUFFIXES = (".csv", ".xlsx", ".json")


@dataclasses.dataclass(frozen=True)
class Row:
    """One data row: ``number`` is the sheet's row number (the header is row 1) or the JSON item's (from 1)."""

    number: int
    data: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Table:
    headers: list[str]  # column names after aliases; empty for JSON
    rows: list[Row]


def read_rows(path: Path, *, optional: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The rows of a CSV with a header line, an .xlsx workbook's first sheet or a JSON list of objects."""
    return [row.data for row in read_table(path.read_bytes(), path.name, optional=optional).rows]


def read_table(data: bytes, filename: str, *, optional: Iterable[str] = (),
               aliases: Mapping[str, str] | None = None) -> Table:
    """The rows of an import file named ``filename`` (its suffix says the format).

    In a CSV or a sheet, cells are stripped, an empty ``active`` cell takes the default, 是/否 are read as
    yes/no, empty ``optional`` cells are left out and wholly empty rows are skipped; a header found in
    ``aliases`` (a zh-CN header) becomes the field name it maps to, and a trailing ``*`` (the template's
    mark of a required column) is dropped. A file that cannot be read is a ``ValidationError`` in zh-CN.
    """
    suffix = Path(filename).suffix.lower()
    if suffix == ".json":
        return _json_table(data)
    if suffix == ".csv":
        headers, raw = _csv_cells(data)
    elif suffix == ".xlsx":
        headers, raw = _xlsx_cells(data)
    else:
        raise ValidationError("只能导入 .xlsx 或 .csv 文件")
    names = [_header(cell, aliases or {}) for cell in headers]
    rows: list[Row] = []
    for number, cells in raw:
        if len(rows) >= MAX_ROWS:
            raise ValidationError(f"一次最多导入{MAX_ROWS}行，请分批导入")
        item = {name: value for name, value in zip(names, cells, strict=False) if name}
        if any(cells) and item:
            rows.append(Row(number, _shape(item, optional)))
    return Table([n for n in names if n], rows)


def _json_table(data: bytes) -> Table:
    try:
        rows = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise ValidationError("JSON 文件无法读取，请检查格式") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValidationError("JSON 文件应为对象的列表")
    if len(rows) > MAX_ROWS:
        raise ValidationError(f"一次最多导入{MAX_ROWS}行，请分批导入")
    return Table([], [Row(number, row) for number, row in enumerate(rows, start=1)])


def _header(cell: str, aliases: Mapping[str, str]) -> str:
    name = cell.strip().rstrip("*").strip()
    return aliases.get(name, name)


def _shape(item: dict[str, str], optional: Iterable[str]) -> dict[str, Any]:
    shaped: dict[str, Any] = dict(item)
    if "active" in shaped:
        flag = csv_flag(shaped["active"])
        if flag is None:
            shaped.pop("active")  # an empty cell: the default (active)
        else:
            shaped["active"] = flag
    for name in optional:
        if not shaped.get(name):
            shaped.pop(name, None)
    return shaped


def _csv_cells(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """UTF-8 (with or without a BOM); otherwise GB18030, which Excel uses for 'CSV' on a Chinese Windows."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise ValidationError("CSV 文件编码无法识别，请另存为 UTF-8 编码的 CSV 或 .xlsx") from None
    if "\x00" in text:
        raise ValidationError("CSV 文件中含有无效字符，请检查文件")
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        raise ValidationError("CSV 文件格式有误，请检查引号和分隔符") from None
    if not records:
        raise ValidationError("文件是空的：第1行应为表头")
    return records[0], [(number, [c.strip() for c in cells]) for number, cells in enumerate(records[1:], start=2)]


def _xlsx_cells(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise ValidationError("不是有效的 .xlsx 文件，请用 Excel 或 WPS 另存为 .xlsx 后再导入") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise ValidationError("该 .xlsx 文件解压后过大，请删除多余的工作表或格式后再导入")
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            rows = sheet.iter_rows(values_only=True)
            header = [_cell(c) for c in next(rows, ())]
            found = []
            for number, cells in enumerate(rows, start=2):
                if number > MAX_ROWS + 1 + 1000:  # blank formatted rows beyond the data: stop reading
                    break
                found.append((number, [_cell(c) for c in cells]))
        finally:
            workbook.close()
    except ValidationError:
        raise
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds of error on a damaged workbook
        raise ValidationError("该 .xlsx 文件已损坏或格式不受支持，请用 Excel 或 WPS 重新保存后再导入") from None
    if not header or not any(header):
        raise ValidationError("文件是空的：第1行应为表头")
    return header, found


def _cell(value: Any) -> str:
    """A cell as the text a person typed: 330102, not 330102.0; 是/否 for a boolean; a date as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def upsert_by_code(model: Any, checked: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """Create or update rows of ``model`` by their ``code``; returns (created, updated). Rows are checked already."""
    created = updated = 0
    for data in checked:
        row = db.session.scalars(select(model).where(model.code == data["code"])).one_or_none()
        if row is None:
            db.session.add(model(**data))
            created += 1
        else:
            for key, value in data.items():
                setattr(row, key, value)
            updated += 1
    db.session.flush()
    return created, updated
