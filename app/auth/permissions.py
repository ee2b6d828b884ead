"""Authorization in one place: which role may do what, and the one check every staff view and service uses.

Default deny: a staff route without a declared permission fails a test that
walks ``app.url_map``; a permission no role holds is held by nobody.
"""

from __future__ import annotations

from app.errors import ForbiddenError

# Sensitive permissions need a TOTP code from the last 10 minutes (step-up).
SENSITIVE = frozenset({
    "review.export", "review.transfer", "review.reveal_reporter", "admin.users.manage", "admin.police_units.manage",
    "admin.keys", "admin.audit", "admin.audit.export", "training.reset", "training.accounts", "review.cases.import",
    "admin.institutions.manage",
})

_PROSECUTOR = frozenset({
    "account", "review.inbox", "review.read", "review.act", "review.enter_phone_report", "review.stats",
    "review.export", "review.transfer", "review.reveal_reporter", "review.cases", "review.cases.import",
})
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({
        "account", "admin.users", "admin.users.manage", "admin.units", "admin.police_units",
        "admin.police_units.manage", "admin.audit", "admin.audit.export", "admin.outbox", "admin.roster", "admin.keys",
        "admin.institutions", "admin.institutions.manage",
    }),
    "prosecutor": _PROSECUTOR,
    "lead": _PROSECUTOR | {"review.assign", "admin.roster"},
    "police": frozenset({"account", "review.inbox", "review.read", "police.act"}),
    "unit_liaison": frozenset({"account", "liaison.view"}),
    # A training deployment's trainer: the training page, its reset and the sheet of trainee accounts; nothing of
    # any report (the role exists only with QZBG_TRAINING=1, and /training/ only there).
    "trainer": frozenset({"account", "training", "training.reset", "training.accounts"}),
}
ALL_PERMISSIONS = frozenset().union(*ROLE_PERMISSIONS.values())


def allows(role: str | None, permission: str) -> bool:
    if permission not in ALL_PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    return role is not None and permission in ROLE_PERMISSIONS.get(role, frozenset())


def require(role: str | None, permission: str) -> None:
    """The one check: ForbiddenError unless ``role`` holds ``permission``."""
    if not allows(role, permission):
        raise ForbiddenError("您没有权限访问该页面或进行此操作")
