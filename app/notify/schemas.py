"""Input rules of the roster page (``/admin/roster``)."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates

from app.notify.models import STAFF_CHANNELS

TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class _Time(fields.Field):  # type: ignore[type-arg]
    """``HH:MM`` (a ``<input type="time">`` value) as minutes after midnight."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        text = value.strip() if isinstance(value, str) else ""
        if not TIME.match(text):
            raise ValidationError("请填写时间，如 08:30")
        hours, minutes = text.split(":")
        return int(hours) * 60 + int(minutes)


class ShiftIn(Schema):
    """One duty shift: who, which weekdays, from and until when (CST), on which channels."""

    user = fields.String(required=True, validate=validate.Length(min=1, max=40, error="请选择值班人员"),
                         error_messages={"required": "请选择值班人员"})
    weekdays = fields.List(fields.String(validate=validate.OneOf([str(d) for d in range(7)],
                                                                  error="请从列表中选择")),
                           required=True, error_messages={"required": "请至少选择一天"})
    start = _Time(required=True, error_messages={"required": "请填写开始时间"})
    end = _Time(required=True, error_messages={"required": "请填写结束时间"})
    channels = fields.List(fields.String(validate=validate.OneOf(list(STAFF_CHANNELS), error="请从列表中选择")),
                           required=True, error_messages={"required": "请至少选择一种通知方式"})

    @validates("weekdays")
    def _some_day(self, value: list[str], **kwargs: Any) -> None:
        if not value:
            raise ValidationError("请至少选择一天")

    @validates("channels")
    def _some_channel(self, value: list[str], **kwargs: Any) -> None:
        if not value:
            raise ValidationError("请至少选择一种通知方式")
