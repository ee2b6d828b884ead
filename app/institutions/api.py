"""``POST /api/v1/institutional/reports``: a report from an institution's own system, signed with its key.

The signature is checked before the body is read as a report (a caller without a valid signature learns nothing of
the body's rules); the report then goes through the mini-program's schema, sealing, routing, deadlines and
notifications (``app.reports.service.submit``), its channel ``institution``, idempotent on the institution's own
record id.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request

from app.core.actor import Actor
from app.core.db import transactional
from app.core.dbtypes import utcnow
from app.core.fields import Text
from app.core.ratelimit import intake_limited
from app.core.rest import ApiBlueprint
from app.crypto.vault import get_vault
from app.errors import ValidationError
from app.institutions import service
from app.institutions.models import Institution
from app.reports import presenters
from app.reports import service as reports
from app.reports.schemas import ReportCreatedOut, ReportIn

F = TypeVar("F", bound=Callable[..., Any])
blp = ApiBlueprint("api_v1_institutional", __name__, url_prefix="/api/v1/institutional",
                   description="医院信息系统、热线工单系统对接接口（签名请求）")
SIGNED: list[dict[str, list[str]]] = [{"institutionSignature": []}]


class InstitutionalReportIn(ReportIn):
    """The JSON API's report body, with the institution's own id of the record it comes from."""

    source_record_id = Text(required=True, max_length=64,
                            metadata={"description": "机构系统中的记录编号：同一编号再次提交返回原报告"})


def institution_required(view: F) -> F:
    """Refuse (401) any request whose signature, key, timestamp or nonce does not hold, before its body is read."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings = current_app.config["QZBG"]
        g.qzbg_institution = service.authenticate(
            request.method, request.path, {name: request.headers.get(name, "") for name in service.HEADERS},
            request.get_data(cache=True), vault=get_vault(),
            now=utcnow(), algorithm=settings.blind_index)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@blp.route("/reports", methods=["POST"])
@transactional
@blp.doc(security=SIGNED)
@institution_required
@intake_limited(lambda: f"institution:{g.qzbg_institution.id}", per_subject="institution_rate_limit")
@blp.arguments(InstitutionalReportIn)
@blp.response(201, ReportCreatedOut)
@blp.alt_response(200, schema=ReportCreatedOut, description="同一 source_record_id 的重复提交：返回原报告，不新建")
@blp.errors(400, 401, 413, 415, 422, 429, 503)
def create_institutional_report(data: dict[str, Any]) -> Any:
    """Submit a mandatory report from a hospital information system or a hotline's work orders."""
    institution: Institution = g.qzbg_institution
    record_id = data.pop("source_record_id")
    if institution.unit_id is not None:
        if data.get("unit_id") not in (None, institution.unit_id):
            raise ValidationError(fields={"unit_id": ["该机构只能以其所属成员单位报告"]})
        data["unit_id"] = institution.unit_id
    result = reports.submit(
        data, actor=Actor.institution(institution.id, institution.office_id),
        client_key=f"inst:{institution.id.hex[:16]}:{record_id}", now=utcnow(), vault=get_vault(),
        ack_deadlines=reports.AckDeadlines.from_settings(current_app.config["QZBG"]),
    )
    return presenters.created(result.report), 201 if result.created else 200
