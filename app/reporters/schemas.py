"""Bodies and answers of the reporter endpoints: login, phone, profile, subscriptions."""

from __future__ import annotations

from marshmallow import fields

from app.core.fields import Code, ListIn, StrictSchema, Text
from app.units.schemas import UnitOut


class CodeIn(StrictSchema):
    # Refused, not cleaned: a code with a control character in it is not one WeChat issued.
    code = Code(required=True, max_length=128, metadata={"description": "wx.login 或 getPhoneNumber 返回的 code"})


class ReporterAccountOut(StrictSchema):
    id = fields.UUID(required=True)
    phone_verified = fields.Boolean(required=True)
    unit = fields.Nested(UnitOut, allow_none=True, required=True)


class LoginOut(StrictSchema):
    token = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    reporter = fields.Nested(ReporterAccountOut, required=True)


class PhoneOut(StrictSchema):
    phone_verified = fields.Boolean(required=True)
    phone_masked = fields.String(required=True)


class MeOut(ReporterAccountOut):
    phone = fields.String(allow_none=True, required=True, metadata={"description": "已验证的手机号，用于预填报告"})
    phone_masked = fields.String(allow_none=True, required=True)


class SubscriptionsIn(StrictSchema):
    """The templates accepted in wx.requestSubscribeMessage; one may repeat (one grant per acceptance)."""

    template_ids = ListIn(
        Text(max_length=64),
        min_items=1,
        max_items=20,
        required=True,
        error_messages={"too_few": "请提供1至20个模板ID", "too_many": "请提供1至20个模板ID"},
    )


class SubscriptionsOut(StrictSchema):
    granted = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
