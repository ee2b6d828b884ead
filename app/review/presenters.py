"""What the review pages show of a report: every field decrypted for the office, only what was shared for police.

Scope first (``visible_report``: own office; police only a report with an open transfer to their unit, anything
else not found), then one dictionary per page built here, so templates never unseal anything themselves.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import or_, select

from app.audit.models import AuditEntry
from app.auth.models import StaffUser
from app.core.actor import Actor
from app.errors import NotFoundError
from app.extensions import db
from app.offices import queries as offices
from app.offices.models import Office
from app.reports.constants import CATEGORIES, GENDER_LABELS
from app.reports.models import Attachment, Report
from app.reports.records import (
    AGENCIES,
    CLOSE_REASONS,
    FEEDBACK_OUTCOMES,
    RISKS,
    SUPERVISION_RESULTS,
    Question,
    Referral,
    Transfer,
)
from app.reports.states import RULES, STATUS_LABELS, Action, allowed_actions
from app.review.access import shows_reporter

NOT_FOUND = "找不到该线索"
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
ACTION_LABELS: dict[str, str] = {
    "submit": "提交报告", "acknowledge": "签收", "assign": "指派承办人", "set_risk": "设定风险等级",
    "add_note": "内部备注", "ask_reporter": "要求补充材料", "answer": "报告人补充材料", "transfer": "移送公安",
    "police_acknowledge": "公安签收", "police_return": "公安退回", "record_feedback": "公安反馈",
    "supervise": "立案监督：要求说明不立案理由", "police_explain": "公安说明理由",
    "conclude_supervision": "立案监督结论", "refer": "转介其他部门", "close": "办结", "reopen": "重新办理",
}
CHANNEL_LABELS = {"miniprogram": "小程序", "web": "网页表单", "phone": "电话",
                  "institution": "机构系统（医院或热线）"}
SECTION_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "reporter": (("name", "姓名"), ("phone", "联系电话"), ("position", "职务/身份")),
    "victim": (("name", "姓名"), ("gender", "性别"), ("age", "年龄"), ("id_number", "身份证号码"),
               ("address", "住址"), ("guardian_name", "监护人姓名"), ("guardian_phone", "监护人电话"),
               ("has_disability", "是否有残疾")),
    "incident": (("discovered_at", "发现时间"), ("occurred_at", "发生时间"), ("location", "地点"),
                 ("description", "情况描述")),
    "suspect": (("name", "姓名"), ("relation", "与未成年人的关系"), ("description", "其他情况")),
    "police": (("notified", "是否已报警"), ("station", "报警的公安机关"), ("notified_at", "报警时间")),
}
SECTION_TITLES = {"reporter": "报告人", "victim": "被侵害未成年人", "incident": "发现经过", "suspect": "疑似侵害人",
                  "police": "报警情况"}
CST = dt.timezone(dt.timedelta(hours=8))


MASKED = "（已隐藏）"


def mask_name(value: str) -> str:
    """王医生 -> 王某: the first character only (a one-character name shows nothing of itself)."""
    text = value.strip()
    return text[0] + "某" if len(text) > 1 else "某"


def mask_phone(value: str) -> str:
    """13800000000 -> 138****0000 (a landline 0571-88888888 -> 057****8888); anything shorter: ****."""
    text = value.strip()
    return text[:3] + "****" + text[-4:] if len(text) >= 8 else "****"


def masked_reporter(report: Report) -> list[tuple[str, str, str]]:
    """The reporter section as office staff see it until they reveal it (step-up): the name's first character,
    the phone's first three and last four digits, the position not at all (with the unit it can name a person)."""
    data = report.section("reporter") or {}
    masks = {"name": mask_name, "phone": mask_phone}
    rows = []
    for field, label in SECTION_FIELDS["reporter"]:
        value = data.get(field)
        if value is None or value == "":
            rows.append((field, label, "—"))
        else:
            rows.append((field, label, masks[field](str(value)) if field in masks else MASKED))
    return rows


def _value(field: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if field == "gender":
        return GENDER_LABELS.get(value, str(value))
    if field.endswith("_at") and isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value).astimezone(CST).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return value
    return str(value)


def section(report: Report, name: str) -> list[tuple[str, str, str]]:
    """(field, label, shown value) of one decrypted section."""
    data = report.section(name) or {}
    return [(field, label, _value(field, data.get(field))) for field, label in SECTION_FIELDS[name]]


def actor_names(labels: list[str]) -> dict[str, str]:
    """Timeline and audit labels -> what a person reads: "staff:<uuid>" -> the account's display name."""
    ids: dict[str, uuid.UUID] = {}
    for label in labels:
        kind, _, rest = label.partition(":")
        if kind == "staff":
            with contextlib.suppress(ValueError):
                ids[label] = uuid.UUID(rest)
    users = {u.id: u.display_name for u in db.session.scalars(
        select(StaffUser).where(StaffUser.id.in_(set(ids.values())))
    )} if ids else {}
    names: dict[str, str] = {}
    for label in labels:
        kind, _, rest = label.partition(":")
        if label in ids:
            names[label] = users.get(ids[label], "已删除的账号")
        elif kind == "channel":
            names[label] = "报告人（" + CHANNEL_LABELS.get(rest, rest) + "）"
        else:
            names[label] = "系统"
    return names


# The office's own steps: not on the police's timeline.
INTERNAL_STEPS = frozenset({"assign", "set_risk", "add_note", "ask_reporter", "answer", "refer"})


@dataclasses.dataclass(frozen=True)
class TimelineEntry:
    """One step of a report's timeline, as the page shows it."""

    at: dt.datetime
    action: str
    label: str
    actor: str
    status: str
    note: str | None  # the office's note (internal timelines only)


def timeline(report: Report, *, internal: bool) -> list[TimelineEntry]:
    events = [e for e in report.events if internal or e.action not in INTERNAL_STEPS]
    names = actor_names([e.actor for e in events])
    return [TimelineEntry(
        at=e.at, action=e.action, label=ACTION_LABELS.get(e.action, e.action), actor=names[e.actor],
        status=STATUS_LABELS.get(e.to_status, e.to_status),
        note=e.unseal("note_data") if internal and e.note_data else None,
    ) for e in events]


def _open(record: Any, column: str) -> Any:
    return record.unseal(column) if getattr(record, column) else None


@dataclasses.dataclass(frozen=True)
class TransferView:
    """A transfer to the police as the report page and the 移送函 show it: its sealed texts opened, its codes
    labelled."""

    id: uuid.UUID
    state: str
    unit: str  # the police unit's name
    unit_code: str
    document_no: str
    share_reporter: bool
    created_at: dt.datetime
    contact: str | None
    note: str | None
    receipt_due_at: dt.datetime | None
    feedback_due_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    returned_at: dt.datetime | None
    return_reason: str | None
    outcome: str | None  # the feedback outcome's label
    case_no: str | None
    decided_on: dt.date | None
    feedback_note: str | None
    supervision_requested_at: dt.datetime | None
    supervision_note: str | None
    supervision_answer_due_at: dt.datetime | None
    explanation: str | None
    explained_at: dt.datetime | None
    conclusion: str | None  # the supervision result's label
    conclusion_note: str | None


def transfer_view(record: Transfer) -> TransferView:
    return TransferView(
        id=record.id, state=record.state, unit=record.police_unit.name, unit_code=record.police_unit.code,
        document_no=_open(record, "document_no_data") or "", share_reporter=record.share_reporter,
        created_at=record.created_at,
        contact=_open(record, "contact_data"), note=_open(record, "note_data"),
        receipt_due_at=record.receipt_due_at, feedback_due_at=record.feedback_due_at,
        acknowledged_at=record.acknowledged_at, returned_at=record.returned_at,
        return_reason=_open(record, "return_reason_data"),
        outcome=FEEDBACK_OUTCOMES.get(record.feedback_outcome or "", None), case_no=_open(record, "case_no_data"),
        decided_on=record.decided_on, feedback_note=_open(record, "feedback_note_data"),
        supervision_requested_at=record.supervision_requested_at,
        supervision_note=_open(record, "supervision_note_data"),
        supervision_answer_due_at=record.supervision_answer_due_at,
        explanation=_open(record, "explanation_data"), explained_at=record.explained_at,
        conclusion=SUPERVISION_RESULTS.get(record.conclusion or "", None),
        conclusion_note=_open(record, "conclusion_note_data"),
    )


def related(report: Report) -> list[Report]:
    """The office's other reports with the same victim ID number or reporter phone (blind indexes only)."""
    keys = [column == value for column, value in ((Report.victim_id_bidx, report.victim_id_bidx),
                                                   (Report.reporter_phone_bidx, report.reporter_phone_bidx))
            if value is not None]
    if not keys:
        return []
    stmt = (select(Report).where(Report.office_id == report.office_id, Report.id != report.id, or_(*keys))
            .order_by(Report.submitted_at.desc()).limit(50))
    return list(db.session.scalars(stmt))


@dataclasses.dataclass(frozen=True)
class Viewer:
    """Who opened a report (or saw its reporter's identity), and when."""

    at: dt.datetime
    name: str
    role: str | None
    revealed: bool  # saw the reporter's identity


def viewers(report: Report) -> list[Viewer]:
    """Who opened this report and who saw the reporter's identity, newest first (the audit log's ``report.view``
    and ``report.reveal_reporter`` entries)."""
    entries = list(db.session.scalars(
        select(AuditEntry).where(AuditEntry.action.in_(("report.view", "report.reveal_reporter")),
                                 AuditEntry.target_type == "report",
                                 AuditEntry.target_id == str(report.id))
        .order_by(AuditEntry.seq.desc()).limit(100)
    ))
    names = actor_names([f"staff:{e.actor_id}" for e in entries if e.actor_id])
    return [Viewer(at=e.at, name=names.get(f"staff:{e.actor_id}", "系统"), role=e.actor_role,
                   revealed=e.action == "report.reveal_reporter") for e in entries]


@dataclasses.dataclass(frozen=True)
class AttachmentView:
    """An attachment as the report page lists it (the file itself comes through its own route)."""

    id: uuid.UUID
    filename: str | None
    size: int | None
    content_type: str
    inline: bool  # an image the browser may show in the page
    question_id: uuid.UUID | None = None  # the question whose answer it came with (None: with the report)


def attachments(report: Report) -> list[AttachmentView]:
    return [AttachmentView(id=a.id, filename=a.unseal("filename_data"), size=a.size, content_type=a.content_type,
                           inline=a.content_type in INLINE_TYPES, question_id=a.question_id)
            for a in report.attachments]


@dataclasses.dataclass(frozen=True)
class QuestionView:
    """A question the office asked the reporter, and the answer if one came."""

    asked_at: dt.datetime
    text: str
    answered_at: dt.datetime | None
    answer: str | None
    files: list[AttachmentView] = dataclasses.field(default_factory=list)  # sent with the answer


@dataclasses.dataclass(frozen=True)
class ReferralView:
    """A referral to another agency (转介)."""

    agency: str
    created_at: dt.datetime
    note: str | None


def find_attachment(report: Report, attachment_id: uuid.UUID) -> Attachment:
    for item in report.attachments:
        if item.id == attachment_id:
            return item
    raise NotFoundError("找不到该附件")


@dataclasses.dataclass(frozen=True)
class Choices:
    """What the action forms offer."""

    assignees: list[tuple[str, str]]  # (username, display name)
    police_units: list[tuple[str, str]]  # (code, name)
    risks: dict[str, str] = dataclasses.field(default_factory=lambda: RISKS)
    outcomes: dict[str, str] = dataclasses.field(default_factory=lambda: FEEDBACK_OUTCOMES)
    results: dict[str, str] = dataclasses.field(default_factory=lambda: SUPERVISION_RESULTS)
    agencies: dict[str, str] = dataclasses.field(default_factory=lambda: AGENCIES)
    close_reasons: dict[str, str] = dataclasses.field(default_factory=lambda: CLOSE_REASONS)


# The actions that take a report to its next step, in the order the report page offers them; every other action
# (assign, risk, a question, a referral, a note) annotates the report where it stands and comes after them.
NEXT_STEPS: tuple[Action, ...] = (
    Action.ACKNOWLEDGE, Action.POLICE_ACKNOWLEDGE, Action.POLICE_EXPLAIN, Action.TRANSFER, Action.RECORD_FEEDBACK,
    Action.SUPERVISE, Action.CONCLUDE_SUPERVISION, Action.CLOSE, Action.REOPEN, Action.POLICE_RETURN,
)
OTHER_STEPS: tuple[Action, ...] = (Action.ASSIGN, Action.SET_RISK, Action.ASK_REPORTER, Action.REFER, Action.ADD_NOTE)
_PAGE_ORDER = {action: place for place, action in enumerate(NEXT_STEPS + OTHER_STEPS)}


def actions(report: Report, actor: Actor, transfer: Transfer | None) -> list[str]:
    """The actions the actor may take now: the state machine's, less those a service would refuse; the next
    steps first (NEXT_STEPS' order), then the rest."""
    found = []
    for action in allowed_actions(report.status, actor.role):
        if action in (Action.SUBMIT, Action.ANSWER):
            continue
        if action == Action.POLICE_ACKNOWLEDGE and (transfer is None or transfer.acknowledged_at is not None):
            continue
        if action == Action.SUPERVISE and (transfer is None or transfer.feedback_outcome != "not_filed"):
            continue
        if action == Action.POLICE_EXPLAIN and (transfer is None or transfer.explained_at is not None):
            continue
        if action == Action.CONCLUDE_SUPERVISION and (transfer is None or transfer.explained_at is None
                                                      or transfer.concluded_at is not None):
            continue
        if action == Action.RECORD_FEEDBACK and transfer is None:
            continue
        found.append(action)
    return [action.value for action in sorted(found, key=_PAGE_ORDER.__getitem__)]


def choices(report: Report) -> Choices:
    people = list(db.session.scalars(
        select(StaffUser).where(StaffUser.office_id == report.office_id, StaffUser.role.in_(("prosecutor", "lead")),
                                StaffUser.active.is_(True)).order_by(StaffUser.display_name, StaffUser.username)
    ))
    return Choices(assignees=[(u.username, f"{u.display_name}（{u.username}）") for u in people],
                   police_units=[(u.code, u.name) for u in offices.police_units(report.office_id)])


def detail(report: Report, actor: Actor, transfer: Transfer | None, *, reveal: bool = False) -> dict[str, Any]:
    """Everything the detail page shows to ``actor``. The office sees the reporter masked unless ``reveal`` (the
    reveal route, behind the sensitive ``review.reveal_reporter``); police see it in full when the transfer shares
    it, else not at all."""
    internal = actor.role != "police"
    names = ["reporter", "victim", "incident", "suspect", "police"]
    if not shows_reporter(actor, transfer):
        names.remove("reporter")
    masked = internal and not reveal
    sections = [(name, SECTION_TITLES[name], masked_reporter(report) if name == "reporter" and masked
                 else section(report, name)) for name in names]
    transfers = [transfer] if not internal and transfer is not None else list(db.session.scalars(
        select(Transfer).where(Transfer.report_id == report.id).order_by(Transfer.created_at)
    )) if internal else []
    assignee = db.session.get(StaffUser, report.assignee_id) if report.assignee_id else None
    merged = db.session.get(Report, report.merged_into_id) if report.merged_into_id else None
    files = attachments(report)
    return {
        "report": report,
        "internal": internal,
        "status_label": STATUS_LABELS.get(report.status, report.status),
        "categories": [(code, CATEGORIES.get(code, code)) for code in report.categories],
        "channel": CHANNEL_LABELS.get(report.channel, report.channel),
        "assignee": assignee.display_name if assignee else None,
        "risk": RISKS.get(report.risk or "", None),
        "close_reason": CLOSE_REASONS.get(report.close_reason or "", None),
        "merged_into": merged,
        "sections": sections,
        "reporter_masked": masked,
        "attachments": files,
        "timeline": timeline(report, internal=internal),
        "transfers": [transfer_view(t) for t in transfers],
        "questions": [QuestionView(asked_at=q.asked_at, text=q.unseal("text_data"), answered_at=q.answered_at,
                                   answer=_open(q, "answer_data"), files=[f for f in files if f.question_id == q.id])
                      for q in db.session.scalars(
            select(Question).where(Question.report_id == report.id).order_by(Question.asked_at))] if internal else [],
        "referrals": [ReferralView(agency=AGENCIES.get(r.agency, r.agency), created_at=r.created_at,
                                   note=_open(r, "note_data")) for r in db.session.scalars(
            select(Referral).where(Referral.report_id == report.id).order_by(Referral.created_at))] if internal else [],
        "related": related(report) if internal else [],
        "viewers": viewers(report) if internal else [],
        "actions": actions(report, actor, transfer),
        "next_steps": frozenset(action.value for action in NEXT_STEPS),
        "supervision_request": (transfer_view(transfer) if not internal and transfer is not None
                                and transfer.supervision_requested_at is not None and transfer.explained_at is None
                                else None),
        "rules": RULES,
        "choices": choices(report),
        "action_labels": ACTION_LABELS,
    }


def letter(report: Report, record: Transfer) -> dict[str, Any]:
    """The 移送函: the office, the document number, the date, the police unit, the facts as entered, and the
    reporter's identity only when it was shared."""
    return {
        "report": report,
        "office": db.session.get(Office, report.office_id),
        "transfer": transfer_view(record),
        "date": record.created_at.astimezone(CST).strftime("%Y年%m月%d日"),
        "categories": [CATEGORIES.get(code, code) for code in report.categories],
        "incident": section(report, "incident"),
        "victim": section(report, "victim"),
        "suspect": section(report, "suspect"),
        "police": section(report, "police"),
        "reporter": section(report, "reporter") if record.share_reporter else None,
    }
