"""JSON API of member units for the intake forms: search, and a QR code's scene to its unit."""

from __future__ import annotations

from typing import Any

from app.core.rest import ApiBlueprint
from app.units import queries
from app.units.schemas import UnitListOut, UnitOut, UnitSearchArgs

blp = ApiBlueprint("api_units", __name__, url_prefix="/api/v1", description="成员单位")


@blp.route("/units")
@blp.arguments(UnitSearchArgs, location="query")
@blp.response(200, UnitListOut)
@blp.errors(422, 503)
def list_units(args: dict[str, Any]) -> dict[str, Any]:
    """Active member units, public fields only."""
    return {"items": queries.search(args["q"], args["type"])}


@blp.route("/units/scene/<string:scene>")
@blp.response(200, UnitOut)
@blp.errors(404, 503)
def resolve_scene(scene: str) -> Any:
    """The unit a mini-program QR code's scene names."""
    return queries.by_code(scene)
