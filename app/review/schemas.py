"""The inputs of the staff actions on a report's page: one marshmallow schema per action, whose fields are the
action's ``Rule.inputs`` (a test holds them equal). The page renders a refused input's errors from these
schemas' messages, and the services check the same rules again for callers that are not a form (the CLI, the
demo seed, tests), with the same words.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import Schema, ValidationError, fields

from app.reports.records import AGENCIES, CLOSE_REASONS, FEEDBACK_OUTCOMES, RISKS, SUPERVISION_RESULTS
from app.reports.states import Action

NOTE_MAX = 5000
REQUIRED = "此项必填"
CHOOSE = "请从列表中选择"
DATE = "请选择日期，如 2026-11-20"


class Text(fields.String):
    """A text box: trimmed; blank is missing (``此项必填`` when required, else None); at most ``limit``."""

    def __init__(self, *, limit: int = NOTE_MAX, required: bool = False) -> None:
        messages: dict[str, Any] = {"required": REQUIRED, "invalid": "请填写文字"}
        if required:
            super().__init__(required=True, error_messages=messages)
        else:
            super().__init__(load_default=None, error_messages=messages)
        self.limit = limit

    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
            if self.required:
                raise ValidationError(REQUIRED)
            return None
        if len(text) > self.limit:
            raise ValidationError(f"不能超过 {self.limit} 个字")
        return text


class Choice(fields.String):
    """One of a list's codes (a select box)."""

    def __init__(self, choices: dict[str, str]) -> None:
        super().__init__(required=True, error_messages={"required": CHOOSE, "invalid": CHOOSE})
        self.choices = choices

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text not in self.choices:
            raise ValidationError(CHOOSE)
        return text


class Flag(fields.Field):
    """A radio pair of ``1`` and ``0``; absent is ``0``."""

    def __init__(self) -> None:
        super().__init__(load_default=False)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value not in ("0", "1"):
            raise ValidationError(CHOOSE)
        return value == "1"


class Day(fields.Field):
    """A date box (``YYYY-MM-DD``); blank is None."""

    def __init__(self) -> None:
        super().__init__(load_default=None)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date | None:
        text = value.strip() if isinstance(value, str) else None
        if text is None:
            raise ValidationError(DATE)
        if not text:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValidationError(DATE) from None


class ActionIn(Schema):
    """Unknown fields of a form (its CSRF token, version, next) are not the action's: the pipeline passes only
    the rule's inputs."""


class AssignIn(ActionIn):
    assignee = Text(limit=40, required=True)


class SetRiskIn(ActionIn):
    risk = Choice(RISKS)


class NoteIn(ActionIn):
    note = Text(required=True)


class OptionalNoteIn(ActionIn):
    note = Text()


class AskReporterIn(ActionIn):
    question = Text(limit=1000, required=True)


class TransferIn(ActionIn):
    police_unit = Text(limit=40, required=True)
    document_no = Text(limit=64, required=True)
    contact = Text(limit=200)
    share_reporter = Flag()
    note = Text()


class PoliceReturnIn(ActionIn):
    reason = Text(limit=1000, required=True)


class RecordFeedbackIn(ActionIn):
    outcome = Choice(FEEDBACK_OUTCOMES)
    case_no = Text(limit=64)
    decided_at = Day()
    note = Text()


class ConcludeSupervisionIn(ActionIn):
    result = Choice(SUPERVISION_RESULTS)
    note = Text()


class ReferIn(ActionIn):
    agency = Choice(AGENCIES)
    note = Text()


class CloseIn(ActionIn):
    reason = Choice(CLOSE_REASONS)
    merge_into = Text(limit=20)
    note = Text()


SCHEMAS: dict[Action, type[ActionIn]] = {
    Action.ACKNOWLEDGE: ActionIn,
    Action.ASSIGN: AssignIn,
    Action.SET_RISK: SetRiskIn,
    Action.ADD_NOTE: NoteIn,
    Action.ASK_REPORTER: AskReporterIn,
    Action.TRANSFER: TransferIn,
    Action.POLICE_ACKNOWLEDGE: ActionIn,
    Action.POLICE_RETURN: PoliceReturnIn,
    Action.RECORD_FEEDBACK: RecordFeedbackIn,
    Action.SUPERVISE: NoteIn,
    Action.POLICE_EXPLAIN: NoteIn,
    Action.CONCLUDE_SUPERVISION: ConcludeSupervisionIn,
    Action.REFER: ReferIn,
    Action.CLOSE: CloseIn,
    Action.REOPEN: OptionalNoteIn,
}
