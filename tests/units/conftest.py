"""Unit page fixtures: the staff ones (accounts, logged-in clients), an admin's client, and spreadsheet builders."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import Workbook

from tests.auth.conftest import logged_in, staff  # noqa: F401 - fixtures

HEADER = ["单位代码*", "单位名称*", "单位类型*", "行政区划代码", "地址", "是否启用", "联络人姓名", "联络人电话"]


def xlsx(rows: list[list[Any]], header: list[str] | None = None) -> bytes:
    """An .xlsx whose first sheet holds ``header`` (the template's by default) and ``rows``."""
    book = Workbook()
    sheet = book.active
    sheet.append(header or HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def admin(logged_in):  # noqa: F811 - the fixture imported above
    """(client, user) of an administrator of the default office, logged in."""
    return logged_in("admin")
