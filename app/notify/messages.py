"""What a staff notification says, rendered per channel.

A message is built from ``Facts`` only: the tracking number, the urgency, the kind of event, a time, a link to
a staff page (which needs a login) and, for the daily digest, counts. Nothing else of a report ever reaches a
renderer, so no name, narrative, phone number, unit name or category label can end up in a message (DOMAIN.md,
confidentiality rules; a test fills every personal field with marker strings and searches every sent byte).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
from typing import Any

CST = dt.timezone(dt.timedelta(hours=8))

# The kind of event, as a staff member reads it (at most 12 characters: an SMS template variable).
EVENTS: dict[str, str] = {
    "new_report": "新线索待签收",
    "urgent_escalation": "紧急线索无人签收",
    "transfer": "移送线索待签收",
    "reporter_answered": "报告人补充了材料",
    "police_responded": "公安机关已处理",
    "police_receipt_overdue": "公安签收已逾期",
    "police_feedback_overdue": "公安反馈已逾期",
    "daily_digest": "今日待办",
}
DIGEST_LABELS: dict[str, str] = {
    "unacknowledged": "待签收", "assigned": "我办理中", "overdue": "已逾期", "answers": "报告人新补充",
}
BUTTON = "查看"


@dataclasses.dataclass(frozen=True)
class Facts:
    """Everything a message may say. Built by ``facts_for``; nothing else goes into a renderer."""

    kind: str
    at: dt.datetime
    link: str
    tracking_no: str | None = None
    urgent: bool = False
    step: int | None = None  # escalation: the how-many-th time nobody acknowledged
    minutes: int | None = None  # escalation: minutes since submission
    counts: tuple[tuple[str, int], ...] = ()  # digest: (label code, number)

    @property
    def event(self) -> str:
        return EVENTS[self.kind]

    @property
    def time(self) -> str:
        return self.at.astimezone(CST).strftime("%Y-%m-%d %H:%M")

    @property
    def short_time(self) -> str:
        return self.at.astimezone(CST).strftime("%m-%d %H:%M")


@dataclasses.dataclass(frozen=True)
class Rendered:
    """One message for one channel: a title, plain text, HTML (e-mail, WeCom card) and SMS template values."""

    title: str
    text: str
    html: str
    sms_params: tuple[str, ...]
    link: str


def _lines(facts: Facts) -> list[str]:
    lines = []
    if facts.tracking_no:
        lines.append(f"线索编号：{facts.tracking_no}")
    if facts.kind != "daily_digest":
        lines.append(f"紧急程度：{'紧急' if facts.urgent else '一般'}")
    lines.append(f"事项：{facts.event}")
    if facts.kind == "urgent_escalation" and facts.minutes is not None:
        lines.append(f"提交后已过 {facts.minutes} 分钟仍无人签收（第 {facts.step} 次提醒）")
    for code, number in facts.counts:
        lines.append(f"{DIGEST_LABELS[code]}：{number} 条")
    lines.append(f"时间：{facts.time}")
    return lines


def render(facts: Facts) -> Rendered:
    """The message of ``facts``: the same words on every channel, each channel taking the parts it uses."""
    mark = "【紧急】" if facts.urgent and not facts.event.startswith("紧急") else ""
    title = f"{mark}{facts.event}" + (f" {facts.tracking_no}" if facts.tracking_no else "")
    lines = _lines(facts)
    text = "\n".join([*lines, "", f"请登录系统查看：{facts.link}", "", "本消息不含案件详情，请勿转发。"])
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    page = (
        f"<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
        f"</head><body>{body}<p><a href=\"{html.escape(facts.link)}\">登录系统查看</a></p>"
        "<p>本消息不含案件详情，请勿转发。</p></body></html>"
    )
    sms = ((f"紧急{facts.event}" if mark else facts.event)[:12], facts.tracking_no or "-", facts.short_time)
    return Rendered(title=title, text=text, html=page, sms_params=sms, link=facts.link)


def wecom_card(rendered: Rendered, facts: Facts) -> dict[str, str]:
    """The WeCom text card (``textcard``): title, a short description in WeCom's three colours, the link."""
    description = [f"<div class=\"gray\">{html.escape(facts.time)}</div>"]
    if facts.urgent:
        description.append("<div class=\"highlight\">紧急</div>")
    description += [f"<div class=\"normal\">{html.escape(line)}</div>" for line in _lines(facts)
                    if not line.startswith(("时间", "紧急程度"))]
    return {"title": rendered.title, "description": "".join(description), "url": rendered.link, "btntxt": BUTTON}


def staff_link(public_url: str, report_id: Any | None) -> str:
    """The staff page of the report (or the inbox): it needs a login, and the id tells nothing."""
    return f"{public_url}/review/reports/{report_id}" if report_id else f"{public_url}/review/"
