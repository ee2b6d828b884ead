"""Response shapes of the reports API (``<Noun>Out``) and its query arguments."""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import fields, validate

from app.core.fields import COMMON_MESSAGES, StrictSchema, Text
from app.reports.constants import GENDERS


class CategoryOut(StrictSchema):
    code = fields.String(required=True)
    label = fields.String(required=True)


class CategoryListOut(StrictSchema):
    items = fields.List(fields.Nested(CategoryOut), required=True)


class ReportSummaryOut(StrictSchema):
    id = fields.UUID(required=True)
    tracking_no = fields.String(required=True)
    status = fields.String(required=True)
    status_label = fields.String(required=True)
    submitted_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)


class ReportListOut(StrictSchema):
    items = fields.List(fields.Nested(ReportSummaryOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class ReportListArgs(StrictSchema):
    cursor = Text(load_default=None, max_length=200)
    # marshmallow 4 ignores a validator's False: the range must raise.
    limit = fields.Integer(
        load_default=20, validate=validate.Range(1, 50, error="应在1至50之间"), error_messages={"invalid": "应为整数"}
    )


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
    status = fields.String(required=True)
    label = fields.String(required=True)


class ReportDetailOut(ReportSummaryOut):
    categories = fields.List(fields.String(), required=True)
    urgent = fields.Boolean(required=True)
    unit_id = fields.Integer(allow_none=True, required=True)
    reporter = fields.Nested(ReporterOut, required=True)
    victim = fields.Nested(VictimOut, required=True)
    incident = fields.Nested(IncidentOut, required=True)
    suspect = fields.Nested(SuspectOut, allow_none=True, required=True)
    police = fields.Nested(PoliceOut, allow_none=True, required=True)
    attachments = fields.List(fields.Nested(AttachmentOut), required=True)
    timeline = fields.List(fields.Nested(TimelineEntryOut), required=True)


class UploadIn(StrictSchema):
    file = Upload(
        required=True,
        error_messages={**COMMON_MESSAGES, "required": "请选择要上传的文件", "invalid": "请以文件形式上传"},
        metadata={"description": "附件文件"},
    )


