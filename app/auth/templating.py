"""What staff templates need from every page: the logged-in user, the navigation their role allows, CST times."""

from __future__ import annotations

import datetime as dt

from flask import Flask, render_template, request

from app.auth import permissions
from app.auth.guard import current_user
from app.auth.models import StaffUser
from app.errors import STAFF_ERROR_PAGE, AppError

CST = dt.timezone(dt.timedelta(hours=8))
NAV = (
    ("/review/", "线索", "review.inbox"),
    ("/review/overdue", "超期", "review.inbox"),
    ("/review/unreported", "应报未报", "review.cases"),
    ("/unit/", "本单位", "liaison.view"),
    ("/review/stats", "统计", "review.stats"),
    ("/review/unit-stats", "本单位统计", "liaison.view"),
    ("/admin/users", "用户", "admin.users"),
    ("/admin/units", "成员单位", "admin.units"),
    ("/admin/police-units", "公安机关", "admin.police_units"),
    ("/admin/institutions", "机构对接", "admin.institutions"),
    ("/admin/audit", "审计日志", "admin.audit"),
    ("/admin/outbox", "通知队列", "admin.outbox"),
    ("/admin/roster", "值班", "admin.roster"),
    ("/admin/sandbox", "通知沙盒", "admin.outbox"),
    ("/training/", "培训管理", "training"),
)

# Pages that belong under another item's heading: a filed case is part of the 应报未报 ledger.
NAV_ALSO: dict[str, tuple[str, ...]] = {"/review/unreported": ("/review/cases", "/review/supervision")}


def landing(user: StaffUser) -> str:
    """Where a user goes after login when no ``next`` was asked for."""
    for href, _label, permission in NAV:
        if permissions.allows(user.role, permission):
            return href
    return "/account/sessions"


def staff_error_page(error: AppError, request_id: str) -> str:
    """A 403 or 404 of the staff side in the staff layout, with a link to the user's own first page."""
    user = current_user()
    return render_template("staff/error.html", error=error, request_id=request_id, status=error.status,
                           home=landing(user) if user is not None else "/login")


def register(app: Flask) -> None:
    app.extensions[STAFF_ERROR_PAGE] = staff_error_page
    def staff_nav() -> list[tuple[str, str, bool]]:
        """(href, label, current) of each page the user's role may open; the current one is the longest href the
        request's path starts with (``/review/overdue`` is not also ``/review/``)."""
        user = current_user()
        items = [item for item in NAV if user is not None and permissions.allows(user.role, item[2])]
        here = max((href for href, _label, _permission in items
                    if any(request.path.startswith(p) for p in (href, *NAV_ALSO.get(href, ())))),
                   key=lambda href: max(len(p) for p in (href, *NAV_ALSO.get(href, ())) if request.path.startswith(p)),
                   default=None)
        return [(href, label, href == here) for href, label, _permission in items]

    def cst(value: dt.datetime | None) -> str:
        return value.astimezone(CST).strftime("%Y-%m-%d %H:%M") if value else ""

    app.add_template_global(current_user, "current_staff")
    app.add_template_global(staff_nav, "staff_nav")
    app.add_template_filter(cst, "cst")
