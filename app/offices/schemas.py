"""Inputs of the office commands and police-unit imports."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError as SchemaError
from marshmallow import fields, validates

from app.core.fields import StrictSchema, Text

CODE = re.compile(r"^[0-9A-Za-z._-]{1,32}$")
DISTRICT = re.compile(r"^[0-9]{6}$")


def _check_code(value: str) -> None:
    if not CODE.match(value):
        raise SchemaError("代码须为1至32个英文字母、数字或 ._- 字符")


class OfficeIn(StrictSchema):
    code = Text(required=True, max_length=32)
    name = Text(required=True, max_length=100)
    districts = fields.List(Text(max_length=12), load_default=list)

    @validates("code")
    def check_code(self, value: str, **kwargs: Any) -> None:
        _check_code(value)

    @validates("districts")
    def check_districts(self, value: list[str], **kwargs: Any) -> None:
        bad = [d for d in value if not DISTRICT.match(d)]
        if bad:
            raise SchemaError("行政区划代码应为6位数字")
        if len(set(value)) != len(value):
            raise SchemaError("行政区划代码重复")


class PoliceUnitIn(StrictSchema):
    code = Text(required=True, max_length=32)
    name = Text(required=True, max_length=100)
    district_code = Text(load_default=None, allow_none=True, max_length=12)
    active = fields.Boolean(load_default=True)
    office = Text(load_default=None, allow_none=True, max_length=32)

    @validates("code")
    def check_code(self, value: str, **kwargs: Any) -> None:
        _check_code(value)

    @validates("district_code")
    def check_district(self, value: str | None, **kwargs: Any) -> None:
        if value is not None and not DISTRICT.match(value):
            raise SchemaError("行政区划代码应为6位数字")


class DistrictIn(StrictSchema):
    """A district the office names (and, when new, takes: public reports from it come to the office)."""

    code = Text(required=True, max_length=12)
    name = Text(required=True, max_length=50)

    @validates("code")
    def check_code(self, value: str, **kwargs: Any) -> None:
        if not DISTRICT.match(value):
            raise SchemaError("行政区划代码应为6位数字")


class DistrictOut(StrictSchema):
    code = fields.String(required=True, metadata={"description": "6位行政区划代码"})
    name = fields.String(required=True)


class DistrictListOut(StrictSchema):
    items = fields.List(fields.Nested(DistrictOut), required=True)
