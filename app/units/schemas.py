"""Unit inputs (the staff forms and every import row go through the same schemas), search arguments, then the
public unit fields."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError as SchemaError
from marshmallow import fields, validates, validates_schema

from app.core.fields import Choice, Phone, StrictSchema, Text
from app.units.models import UNIT_TYPES

# A mini-program QR code's scene: at most 32 visible ASCII characters from WeChat's allowed set.
SCENE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@._~-]{1,32}$")
DISTRICT = re.compile(r"^[0-9]{6,12}$")


class ActiveFlag(fields.Boolean):
    default_error_messages = {"invalid": "应为“是”或“否”（或 1 / 0）", "null": "此项不能为空"}  # noqa: RUF012


class UnitIn(StrictSchema):
    """A member unit as created or edited on the staff pages and as one row of an import."""

    code = Text(required=True, max_length=32)
    name = Text(required=True, max_length=100)
    type = Choice(tuple(UNIT_TYPES), required=True)
    district_code = Text(load_default=None, allow_none=True, max_length=12)
    address = Text(load_default=None, allow_none=True, max_length=200)
    active = ActiveFlag(load_default=True)

    @validates("code")
    def check_code(self, value: str, **kwargs: Any) -> None:
        if not SCENE.match(value):
            raise SchemaError("单位代码须为1至32个英文字母、数字或 !#$&'()*+,/:;=?@._~- 字符")

    @validates("district_code")
    def check_district(self, value: str | None, **kwargs: Any) -> None:
        if value is not None and not DISTRICT.match(value):
            raise SchemaError("行政区划代码应为6至12位数字")


class LiaisonIn(StrictSchema):
    """A unit's liaison: a name and a phone number, both sealed once stored."""

    name = Text(required=True, max_length=50)
    phone = Phone(required=True)


class UnitRowIn(UnitIn):
    """A unit with an optional first liaison: one import row, or the new-unit form."""

    liaison_name = Text(load_default=None, allow_none=True, max_length=50)
    liaison_phone = Phone(load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=False)  # every problem of a row at once
    def liaison_whole(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("liaison_name") and not data.get("liaison_phone"):
            raise SchemaError("填写了联络人姓名，请同时填写联络人电话", "liaison_phone")
        if data.get("liaison_phone") and not data.get("liaison_name"):
            raise SchemaError("填写了联络人电话，请同时填写联络人姓名", "liaison_name")


# Column headers an import file may use: the schema's field names, or the template's zh-CN headers.
IMPORT_HEADERS: dict[str, str] = {
    "单位代码": "code", "单位名称": "name", "单位类型": "type", "行政区划代码": "district_code", "地址": "address",
    "是否启用": "active", "联络人姓名": "liaison_name", "联络人电话": "liaison_phone",
}
IMPORT_FIELDS = tuple(UnitRowIn().fields)
REQUIRED_COLUMNS = ("code", "name", "type")
FIELD_LABELS: dict[str, str] = {key: label for label, key in IMPORT_HEADERS.items()}


class UnitOut(StrictSchema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    type = fields.String(required=True, metadata={"enum": list(UNIT_TYPES)})


class UnitListOut(StrictSchema):
    items = fields.List(fields.Nested(UnitOut), required=True)


class UnitSearchArgs(StrictSchema):
    q = Text(load_default=None, max_length=50)
    type = Choice(tuple(UNIT_TYPES), load_default=None)
