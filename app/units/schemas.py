"""Unit inputs (import rows, search arguments), then the public unit fields."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError as SchemaError
from marshmallow import fields, validates

from app.core.fields import Choice, StrictSchema, Text
from app.units.models import UNIT_TYPES

# A mini-program QR code's scene: at most 32 visible ASCII characters from WeChat's allowed set.
SCENE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@._~-]{1,32}$")


class UnitIn(StrictSchema):
    code = Text(required=True, max_length=32)
    name = Text(required=True, max_length=100)
    type = Choice(tuple(UNIT_TYPES), required=True)
    district_code = Text(load_default=None, allow_none=True, max_length=12)
    active = fields.Boolean(load_default=True)

    @validates("code")
    def check_code(self, value: str, **kwargs: Any) -> None:
        if not SCENE.match(value):
            raise SchemaError("单位代码须为1至32个英文字母、数字或 !#$&'()*+,/:;=?@._~- 字符")


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
