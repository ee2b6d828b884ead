"""JSON API of offices for the intake forms: the districts a public report can be routed by."""

from __future__ import annotations

from typing import Any

from app.core.rest import ApiBlueprint
from app.offices import queries
from app.offices.schemas import DistrictListOut

blp = ApiBlueprint("api_offices", __name__, url_prefix="/api/v1", description="受理地区")


@blp.route("/districts")
@blp.response(200, DistrictListOut)
@blp.errors(503)
def list_districts() -> dict[str, Any]:
    """The districts the offices cover; a public report names one to reach the office that covers it."""
    return {"items": [{"code": d.code, "name": d.name} for d in queries.districts()]}
