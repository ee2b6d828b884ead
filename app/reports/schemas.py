"""The report body of CONTRACT.md: the one place report input is checked.

Used by the JSON API and, after the form's strings are shaped into the same
structure, by the web form.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from marshmallow import ValidationError, fields, validates_schema

from app.core.fields import AwareDateTime, Choice, ListIn, NestedIn, StrictBool, StrictInt, StrictSchema, Text
from app.reports.constants import CATEGORIES, GENDERS
from app.reports.idcard import age_on, birth_date, is_phone, normalise_id_number

CLOCK_SKEW = dt.timedelta(minutes=5)
CST = dt.timezone(dt.timedelta(hours=8))


class Phone(Text):
    default_error_messages = {  # noqa: RUF012
        **Text.default_error_messages,
        "phone": "请填写11位手机号码，或带区号的固定电话（如 0571-88888888）",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=20, **kwargs)

    # A blank optional text is None (missing), hence the wider return type than String's.
    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            return None
        # Full-width digits from a Chinese IME become ASCII; other scripts' digits (which \d takes) are refused.
        text = unicodedata.normalize("NFKC", text).replace(" ", "")
        if not text.isascii() or not is_phone(text):
            raise self.make_error("phone")
        return text


class IdNumber(Text):
    default_error_messages = {  # noqa: RUF012
        **Text.default_error_messages,
        "id_number": "身份证号码有误，请核对18位号码（含末位校验码）",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=18, min_length=18, **kwargs)

    # A blank optional text is None (missing), hence the wider return type than String's.
    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> str | None:
        if isinstance(value, str) and not value.strip() and self.allow_none:
            return None  # blank counts as not given, as for every other optional text
        if isinstance(value, str):
            value = normalise_id_number(unicodedata.normalize("NFKC", value))
            if len(value) != 18 or not value.isascii() or birth_date(value) is None:
                raise self.make_error("id_number")
        return super()._deserialize(value, attr, data, **kwargs)


class ReporterIn(StrictSchema):
    name = Text(required=True, max_length=50, metadata={"description": "报告人姓名"})
    phone = Phone(required=True, metadata={"description": "手机号或带区号的固定电话"})
    position = Text(load_default=None, allow_none=True, max_length=50)


class VictimIn(StrictSchema):
    name = Text(load_default=None, allow_none=True, max_length=50)
    gender = Choice(GENDERS, required=True)
    age = StrictInt(load_default=None, allow_none=True, metadata={"minimum": 0, "maximum": 17})
    id_number = IdNumber(load_default=None, allow_none=True)
    address = Text(load_default=None, allow_none=True, max_length=200)
    guardian_name = Text(load_default=None, allow_none=True, max_length=50)
    guardian_phone = Phone(load_default=None, allow_none=True)
    has_disability = StrictBool(load_default=None, allow_none=True)

    # Every schema-level check runs even when other fields failed (skip_on_field_errors=False), so a
    # reporter sees every error in one round; each check reads only what passed its own field checks.
    @validates_schema(skip_on_field_errors=False)
    def check_age(self, data: dict[str, Any], **kwargs: Any) -> None:
        age = data.get("age")
        if age is not None and not 0 <= age <= 17:
            raise ValidationError("年龄应在0至17岁之间", "age")


class IncidentIn(StrictSchema):
    discovered_at = AwareDateTime(required=True)
    occurred_at = AwareDateTime(load_default=None, allow_none=True)
    location = Text(load_default=None, allow_none=True, max_length=200)
    description = Text(required=True, min_length=10, max_length=5000, multiline=True)

    @validates_schema(skip_on_field_errors=False)
    def check_times(self, data: dict[str, Any], **kwargs: Any) -> None:
        now = dt.datetime.now(dt.UTC)
        discovered = data.get("discovered_at")
        if discovered and discovered > now + CLOCK_SKEW:
            raise ValidationError("发现时间不能晚于当前时间", "discovered_at")
        occurred = data.get("occurred_at")
        if occurred and discovered and occurred > discovered:
            raise ValidationError("发生时间不能晚于发现时间", "occurred_at")


class SuspectIn(StrictSchema):
    name = Text(load_default=None, allow_none=True, max_length=50)
    relation = Text(load_default=None, allow_none=True, max_length=50)
    description = Text(load_default=None, allow_none=True, max_length=1000, multiline=True)


class PoliceIn(StrictSchema):
    notified = StrictBool(required=True, metadata={"description": "是否已报警"})
    station = Text(load_default=None, allow_none=True, max_length=100)
    notified_at = AwareDateTime(load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=False)
    def check_time(self, data: dict[str, Any], **kwargs: Any) -> None:
        at = data.get("notified_at")
        if at and at > dt.datetime.now(dt.UTC) + CLOCK_SKEW:
            raise ValidationError("报警时间不能晚于当前时间", "notified_at")


class ReportBody(StrictSchema):
    """Everything but ``client_id``: what the web form and the API share."""

    categories = ListIn(
        Choice(tuple(CATEGORIES)), required=True, metadata={"description": "1至9个情形代码，不重复"}
    )
    urgent = StrictBool(load_default=False)
    unit_id = StrictInt(load_default=None, allow_none=True)
    reporter = NestedIn(ReporterIn, required=True)
    victim = NestedIn(VictimIn, required=True)
    incident = NestedIn(IncidentIn, required=True)
    suspect = NestedIn(SuspectIn, load_default=None, allow_none=True)
    police = NestedIn(PoliceIn, load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def check_categories(self, data: dict[str, Any], original_data: Any, **kwargs: Any) -> None:
        codes = data.get("categories")
        given = original_data.get("categories") if isinstance(original_data, dict) else None
        if codes is None or not isinstance(given, list) or len(given) != len(codes):
            return  # missing, not a list, or a code already refused on its own
        if not 1 <= len(codes) <= len(CATEGORIES):
            raise ValidationError("请选择至少一种情形", "categories")
        if len(set(codes)) != len(codes):
            raise ValidationError("情形不能重复选择", "categories")

    @validates_schema(skip_on_field_errors=False)
    def check_id_number_age(self, data: dict[str, Any], **kwargs: Any) -> None:
        victim, incident = data.get("victim"), data.get("incident")
        # A section with errors of its own still brings the fields that passed.
        if not isinstance(victim, dict) or not isinstance(incident, dict):
            return
        if not victim.get("id_number") or not incident.get("discovered_at"):
            return
        born = birth_date(victim["id_number"])
        assert born is not None  # IdNumber checked it
        on = incident["discovered_at"].astimezone(CST).date()
        if born > on:
            raise ValidationError({"victim": {"id_number": ["身份证号码的出生日期晚于发现时间，请核对"]}})
        years = age_on(born, on)
        if years >= 18:
            adult = "按身份证号码，被侵害人在发现时已满18周岁，不属于未成年人"
            raise ValidationError({"victim": {"id_number": [adult]}})
        if victim.get("age") is not None and victim["age"] != years:
            raise ValidationError({"victim": {"age": [f"年龄与身份证号码不符（按号码应为{years}岁）"]}})


class ReportIn(ReportBody):
    """The JSON API's report body."""

    client_id = fields.UUID(
        required=True,
        error_messages={"required": "此项必填", "null": "此项不能为空", "invalid_uuid": "应为 UUID"},
        metadata={"description": "客户端生成的幂等键"},
    )


class ReportCreatedOut(StrictSchema):
    id = fields.UUID()
    tracking_no = fields.String()
    status = fields.String()
    submitted_at = fields.AwareDateTime()
