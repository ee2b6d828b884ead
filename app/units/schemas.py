"""Public unit fields and the unit search arguments."""

from __future__ import annotations

from marshmallow import fields

from app.schemas import Choice, StrictSchema, Text
from app.units.models import UNIT_TYPES


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
