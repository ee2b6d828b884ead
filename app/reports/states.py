"""The one state machine of a report (DOMAIN.md, "The life of a report").

Every status change goes through ``transition``; anything not listed is refused.
"""

from __future__ import annotations

from app.errors import ConflictError

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "acknowledge": (frozenset({"new"}), "reviewing"),
    "transfer": (frozenset({"reviewing"}), "transferred"),
    "record_feedback": (frozenset({"transferred", "supervising"}), "police_responded"),
    "supervise": (frozenset({"police_responded"}), "supervising"),
    "close": (frozenset({"reviewing", "police_responded", "supervising"}), "closed"),
    "reopen": (frozenset({"closed"}), "reviewing"),
}


def allowed_actions(status: str) -> list[str]:
    return [action for action, (sources, _) in TRANSITIONS.items() if status in sources]


def transition(status: str, action: str) -> str:
    """The status ``action`` leads to from ``status``; ConflictError when not allowed."""
    try:
        sources, target = TRANSITIONS[action]
    except KeyError:
        raise ValueError(f"unknown action {action!r}") from None
    if status not in sources:
        raise ConflictError("该线索当前状态不允许此操作，请刷新后重试")
    return target
