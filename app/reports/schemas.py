"""Report inputs, then the answers of the reports API (``<Noun>Out``).

The report body of CONTRACT.md is checked here and only here: by the JSON API and, after the form's
strings are shaped into the same structure, by the web form.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from flask_smorest.fields import Upload
from marshmallow import ValidationError, fields, validate, validates_schema
from werkzeug.datastructures import FileStorage

from app.core.fields import (
    COMMON_MESSAGES,
    AwareDateTime,
    Choice,
    DistrictCode,
    ListIn,
    NestedIn,
    Phone,
    QueryInt,
    StrictBool,
    StrictInt,
    StrictSchema,
    Text,
)
from app.core.idcard import age_on, birth_date, normalise_id_number
from app.reports.constants import CATEGORIES, GENDERS
from app.reports.states import REPORTER_STATUS_LABELS

CLOCK_SKEW = dt.timedelta(minutes=5)
CST = dt.timezone(dt.timedelta(hours=8))


class IdNumber(Text):
    default_error_messages = {  # noqa: RUF012
        **Text.default_error_messages,
        "id_number": "身份证号码有误，请核对18位号码（含末位校验码）",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=18, min_length=18, **kwargs)

    def openapi_properties(self, ret: dict[str, Any]) -> dict[str, Any]:
        shape = "^[1-9][0-9]{16}[0-9Xx]$"
        return {
            "pattern": f"^\\s*$|{shape}" if self.allow_none else shape,
            "description": "18位居民身份证号码：末位校验码须正确，出生日期须为真实日期，且发现时未满18周岁",
        }

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
    age = StrictInt(
        load_default=None, allow_none=True,
        metadata={"minimum": 0, "maximum": 17, "description": "周岁；填写了身份证号码时须与之相符"},
    )
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
    discovered_at = AwareDateTime(required=True, metadata={"description": "不能晚于当前时间（允许5分钟误差）"})
    occurred_at = AwareDateTime(load_default=None, allow_none=True, metadata={"description": "不能晚于 discovered_at"})
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
    notified_at = AwareDateTime(
        load_default=None, allow_none=True, metadata={"description": "不能晚于当前时间（允许5分钟误差）"}
    )

    @validates_schema(skip_on_field_errors=False)
    def check_time(self, data: dict[str, Any], **kwargs: Any) -> None:
        at = data.get("notified_at")
        if at and at > dt.datetime.now(dt.UTC) + CLOCK_SKEW:
            raise ValidationError("报警时间不能晚于当前时间", "notified_at")


class ReportBody(StrictSchema):
    """Everything but ``client_id``: what the web form and the API share."""

    categories = ListIn(
        Choice(tuple(CATEGORIES)),
        min_items=1,
        max_items=len(CATEGORIES),
        unique=True,
        required=True,
        error_messages={"too_few": "请选择至少一种情形", "too_many": "最多选择9种情形", "unique": "情形不能重复选择"},
        metadata={"description": "1至9个情形代码，不重复"},
    )
    urgent = StrictBool(load_default=False)
    training = StrictBool(
        load_default=False,
        metadata={"description": "培训练习报告：只进入培训队列，不计入统计，不通知真实渠道，7天后删除"},
    )
    unit_id = StrictInt(
        load_default=None, allow_none=True, metadata={"description": "启用中的成员单位的 id；公众报告为 null"}
    )
    district_code = DistrictCode(
        load_default=None, allow_none=True,
        metadata={"description": "公众报告所在地区（/api/v1/districts 之一），决定受理的检察院；有 unit_id 时忽略"},
    )
    reporter = NestedIn(ReporterIn, required=True)
    victim = NestedIn(VictimIn, required=True)
    incident = NestedIn(IncidentIn, required=True)
    suspect = NestedIn(SuspectIn, load_default=None, allow_none=True)
    police = NestedIn(PoliceIn, load_default=None, allow_none=True)

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


class ReportListArgs(StrictSchema):
    cursor = Text(load_default=None, max_length=200)
    # marshmallow 4 ignores a validator's False: the range must raise.
    limit = QueryInt(load_default=20, validate=validate.Range(1, 50, error="应在1至50之间"))


class FileIn(Upload):
    """A multipart file part; a text part of the same name is not a file."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> FileStorage:
        if not isinstance(value, FileStorage):
            raise self.make_error("invalid")
        return value


class UploadIn(StrictSchema):
    file = FileIn(
        required=True,
        error_messages={**COMMON_MESSAGES, "required": "请选择要上传的文件", "invalid": "请以文件形式上传"},
        metadata={"description": "附件文件"},
    )


class AnswerIn(StrictSchema):
    """The reporter's answer to a question the office asked (补充材料); the web status page's form too."""

    question_id = fields.UUID(
        required=True,
        error_messages={"required": "此项必填", "null": "此项不能为空", "invalid_uuid": "应为 UUID"},
        metadata={"description": "所回答的问题的 id（GET /api/v1/reports/<id> 的 questions[].id）"},
    )
    text = Text(required=True, max_length=5000, multiline=True, metadata={"description": "回复内容"})
    attachment_ids = fields.List(
        fields.UUID(error_messages={"invalid_uuid": "应为 UUID"}),
        load_default=list,
        validate=validate.Length(min=0, max=9, error="最多附带9个附件"),
        error_messages={"null": "此项不能为空", "invalid": "应为附件 id 的列表"},
        metadata={
            "description": "随回复提交的附件：提问之后经 /attachments 上传到本报告、尚未随其他回复提交的附件 id",
            "uniqueItems": True,
        },
    )

    @validates_schema
    def distinct_attachments(self, data: dict[str, Any], **kwargs: Any) -> None:
        ids = data.get("attachment_ids") or []
        if len(set(ids)) != len(ids):
            raise ValidationError("附件不能重复", "attachment_ids")


# ---- answers ---------------------------------------------------------------------------------------


STATUS = {"enum": list(REPORTER_STATUS_LABELS)}


class ReportCreatedOut(StrictSchema):
    id = fields.UUID(required=True)
    tracking_no = fields.String(required=True)
    status = fields.String(required=True, metadata=STATUS)
    submitted_at = fields.AwareDateTime(required=True)


class CategoryOut(StrictSchema):
    code = fields.String(required=True)
    label = fields.String(required=True)


class CategoryListOut(StrictSchema):
    items = fields.List(fields.Nested(CategoryOut), required=True)


class ReportSummaryOut(StrictSchema):
    id = fields.UUID(required=True)
    tracking_no = fields.String(required=True)
    status = fields.String(required=True, metadata=STATUS)
    status_label = fields.String(required=True)
    submitted_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)


class ReportListOut(StrictSchema):
    items = fields.List(fields.Nested(ReportSummaryOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class ReporterOut(StrictSchema):
    name = fields.String()
    phone = fields.String()
    position = fields.String(allow_none=True)


class VictimOut(StrictSchema):
    name = fields.String(allow_none=True)
    gender = fields.String(metadata={"enum": list(GENDERS)})
    age = fields.Integer(allow_none=True)
    id_number = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    guardian_name = fields.String(allow_none=True)
    guardian_phone = fields.String(allow_none=True)
    has_disability = fields.Boolean(allow_none=True)


class IncidentOut(StrictSchema):
    discovered_at = fields.String()
    occurred_at = fields.String(allow_none=True)
    location = fields.String(allow_none=True)
    description = fields.String()


class SuspectOut(StrictSchema):
    name = fields.String(allow_none=True)
    relation = fields.String(allow_none=True)
    description = fields.String(allow_none=True)


class PoliceOut(StrictSchema):
    notified = fields.Boolean()
    station = fields.String(allow_none=True)
    notified_at = fields.String(allow_none=True)


class AttachmentOut(StrictSchema):
    id = fields.UUID(required=True)
    filename = fields.String(required=True)
    size = fields.Integer(required=True)
    content_type = fields.String(required=True)


class TimelineEntryOut(StrictSchema):
    at = fields.AwareDateTime(required=True)
    status = fields.String(required=True, metadata=STATUS)
    label = fields.String(required=True)


class QuestionOut(StrictSchema):
    id = fields.UUID(required=True)
    asked_at = fields.AwareDateTime(required=True)
    text = fields.String(required=True, metadata={"description": "检察院向报告人提出的问题"})
    answered_at = fields.AwareDateTime(allow_none=True, required=True)
    answer = fields.String(allow_none=True, required=True, metadata={"description": "报告人的回复；未回复为 null"})
    attachments = fields.List(
        fields.Nested(AttachmentOut), required=True, metadata={"description": "随回复提交的附件"}
    )


class AnswerOut(StrictSchema):
    id = fields.UUID(required=True, metadata={"description": "回复的 id（与所回答问题的 id 相同：每个问题一个回复）"})
    question_id = fields.UUID(required=True)
    answered_at = fields.AwareDateTime(required=True)


class ReportDetailOut(ReportSummaryOut):
    categories = fields.List(fields.String(), required=True)
    urgent = fields.Boolean(required=True)
    training = fields.Boolean(required=True, metadata={"description": "培训练习报告（7天后删除）"})
    unit_id = fields.Integer(allow_none=True, required=True)
    reporter = fields.Nested(ReporterOut, required=True)
    victim = fields.Nested(VictimOut, required=True)
    incident = fields.Nested(IncidentOut, required=True)
    suspect = fields.Nested(SuspectOut, allow_none=True, required=True)
    police = fields.Nested(PoliceOut, allow_none=True, required=True)
    attachments = fields.List(fields.Nested(AttachmentOut), required=True)
    timeline = fields.List(fields.Nested(TimelineEntryOut), required=True)
    questions = fields.List(fields.Nested(QuestionOut), required=True)
