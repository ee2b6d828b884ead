"""The web form adapter: flat form fields (``victim.age``) shaped into the JSON report and checked
by the same marshmallow schema as the API.

What only the form can get wrong (a ``datetime-local`` value, a ``1``/``0`` flag,
a field name that does not fit the structure) is caught while shaping, so every
error is keyed by the name of the field it belongs beside.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from marshmallow import ValidationError as SchemaError
from marshmallow import fields
from werkzeug.datastructures import MultiDict

from app.errors import flatten_messages
from app.reports.schemas import ReportBody
from app.reports.tracking import CST

FORM_KEY = re.compile(r"^[A-Za-z0-9_-]{20,40}$")
RECEIPT_TTL = 3600  # seconds a sealed 查询码 waits in the session for its receipt page
OPEN_FORMS = 10  # rendered forms a session remembers
# What Chrome, Safari and WeChat send for <input type="datetime-local">: seconds only with a step.
LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")
INTEGER = re.compile(r"^-?[0-9]{1,9}$")
DATETIME_FIELDS = frozenset({"incident.discovered_at", "incident.occurred_at", "police.notified_at"})
BOOL_FIELDS = frozenset({"urgent", "training", "victim.has_disability", "police.notified"})
INT_FIELDS = frozenset({"unit_id", "victim.age"})
# Form-only inputs; "categories" and "files" are read with getlist.
SKIP_FIELDS = frozenset({"csrf_token", "form_key", "website", "categories", "files", "staged_file", "staged_remove"})
SECTIONS = ("reporter", "victim", "incident", "suspect", "police")
# Always sent to the schema, so their required fields read "此项必填". The web form asks "是否已报警"
# of everyone (no default: a skipped answer is not "no"); the API leaves the police section optional.
REQUIRED_SECTIONS = ("reporter", "victim", "incident", "police")


def _field_names() -> tuple[str, ...]:
    """Every name the form renders an error beside, in the form's order: the schema's paths joined with dots."""
    names: list[str] = []
    for name, field in ReportBody().fields.items():
        if isinstance(field, fields.Nested):
            names.extend(f"{name}.{sub}" for sub in field.schema.fields)
        else:
            names.append(name)
    return (*names, "files")


FIELD_NAMES = _field_names()


class FormValueError(ValueError):
    """A form value that cannot be what its input type sends; the message is shown beside the field."""


def client_key(form_key: str) -> str:
    return "web:" + hashlib.sha256(form_key.encode()).hexdigest()


def _coerce(name: str, value: str) -> Any:
    """One form string -> its JSON value; None for an empty field."""
    value = value.strip()
    if value == "":
        return None
    if name in BOOL_FIELDS:
        if value not in ("1", "0"):
            raise FormValueError("请选择“是”或“否”")
        return value == "1"
    if name in INT_FIELDS:
        return int(value) if INTEGER.match(value) else value  # the schema says "应为整数"
    if name in DATETIME_FIELDS:
        if not LOCAL_DATETIME.match(value):
            raise FormValueError("请选择日期和时间，如 2026-11-20 10:30")
        try:
            # datetime-local values are China Standard Time (CONTRACT.md).
            local = dt.datetime.fromisoformat(value).replace(tzinfo=CST)
            local.astimezone(dt.UTC)  # 0001-01-01T00:00 has no UTC instant
        except (ValueError, OverflowError):
            raise FormValueError("日期或时间不存在，请重新选择") from None
        return local.isoformat()
    return value


def shape_form(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Flat form fields -> (the JSON report structure, errors found while shaping).

    Empty fields are left out, so required ones read "此项必填" and optional ones
    take the schema's default. Unknown names inside a section stay, for the schema
    to refuse; names that cannot fit the structure are refused here.
    """
    data: dict[str, Any] = {"urgent": False, **{section: {} for section in REQUIRED_SECTIONS}}
    if form.getlist("categories"):
        # None ticked is left out: "此项必填" then shows even beside other errors, which
        # the schema-level "at least one" check would wait for.
        data["categories"] = form.getlist("categories")
    errors: dict[str, list[str]] = {}
    for name in form:
        if name in SKIP_FIELDS:
            continue
        section, dot, field = name.partition(".")
        if (section in SECTIONS) != bool(dot) or "." in field or (dot and not field):
            errors[name] = ["不支持的字段"]
            continue
        try:
            value = _coerce(name, form.get(name, ""))
        except FormValueError as exc:
            errors[name] = [str(exc)]
            continue
        if dot:
            section_data = data.setdefault(section, {})
            if value is not None:
                section_data[field] = value
        elif value is not None:
            data[name] = value
    for section in SECTIONS:
        if section not in REQUIRED_SECTIONS and not data.get(section):
            data.pop(section, None)
    return data, errors


def _schema_errors(exc: SchemaError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for key, messages in flatten_messages(exc.messages).items():
        # A wrong code is reported as "categories.<index>"; it belongs beside the checkboxes.
        shown = errors.setdefault("categories" if key.startswith("categories.") else key, [])
        shown.extend(m for m in dict.fromkeys(messages) if m not in shown)
    return errors


def parse_report_form(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(the validated report body, every error keyed by form field name); the body counts only without errors."""
    data, errors = shape_form(form)
    try:
        loaded = ReportBody().load(data)
    except SchemaError as exc:
        for name, messages in _schema_errors(exc).items():
            errors.setdefault(name, messages)
        return {}, errors
    return loaded, errors


