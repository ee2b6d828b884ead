"""Shared marshmallow building blocks with zh-CN messages.

Every input rule lives in a marshmallow schema; these fields make the rules
strict (no silent type coercion in JSON) and the messages readable.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from marshmallow import RAISE, Schema, fields

COMMON_MESSAGES = {
    "required": "此项必填",
    "null": "此项不能为空",
    "validator_failed": "内容不符合要求",
}


class StrictSchema(Schema):
    """Unknown fields are refused; errors are zh-CN."""

    class Meta:
        unknown = RAISE

    error_messages = {  # noqa: RUF012 - marshmallow reads this class attribute
        "unknown": "不支持的字段",
        "type": "格式不正确，应为 JSON 对象",
    }


# Control, surrogate, private-use and unassigned characters; zero-width spaces, bidi overrides and
# byte-order marks (they hide or reorder text). ZWJ (U+200D) stays: emoji sequences need it.
DROPPED_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})
INVISIBLE = frozenset("\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
_LINE_BREAKS = re.compile(r"\r\n?|\u2028|\u2029")


def clean_text(value: str, *, multiline: bool) -> str:
    """Drop control, surrogate and unassigned-format characters; keep newlines in multiline text."""
    value = _LINE_BREAKS.sub("\n", value)
    out = []
    for ch in value:
        if ch == "\n":
            out.append("\n" if multiline else " ")
        elif ch == "\t":
            out.append(" ")
        elif unicodedata.category(ch) in DROPPED_CATEGORIES or ch in INVISIBLE:
            continue
        else:
            out.append(ch)
    return "".join(out).strip()


class Text(fields.String):
    """A free text: cleaned, then measured in characters. Empty after cleaning counts as missing."""

    default_error_messages = {  # noqa: RUF012
        **COMMON_MESSAGES,
        "invalid": "应为文本",
        "too_short": "至少需要 {min} 个字",
        "too_long": "不能超过 {max} 个字",
    }

    def __init__(self, *, max_length: int, min_length: int = 1, multiline: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length
        self.min_length = min_length
        self.multiline = multiline

    # A blank optional text is None (missing), hence the wider return type than String's.
    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> str | None:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        text = clean_text(value, multiline=self.multiline)
        if not text:
            if self.allow_none:
                return None
            raise self.make_error("required")
        if len(text) < self.min_length:
            raise self.make_error("too_short", min=self.min_length)
        if len(text) > self.max_length:
            raise self.make_error("too_long", max=self.max_length)
        return text


class StrictBool(fields.Boolean):
    """Only JSON true/false."""

    default_error_messages = {**COMMON_MESSAGES, "invalid": "应为是或否（true/false）"}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if isinstance(value, bool):
            return value
        raise self.make_error("invalid")


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class StrictInt(fields.Integer):
    default_error_messages = {**COMMON_MESSAGES, "invalid": "应为整数", "too_large": "数值超出范围"}  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number: int = super()._deserialize(value, attr, data, **kwargs)
        # Beyond a 32-bit column the database driver raises instead of finding nothing.
        if not INT32_MIN <= number <= INT32_MAX:
            raise self.make_error("too_large")
        return number


class AwareDateTime(fields.AwareDateTime):
    """ISO 8601 with an offset, e.g. 2026-11-20T10:30:00+08:00."""

    default_error_messages = {  # noqa: RUF012
        **COMMON_MESSAGES,
        "invalid": "时间格式不正确，应为 ISO 8601 格式并带时区，如 2026-11-20T10:30:00+08:00",
        "invalid_awareness": "时间须带时区，如 +08:00",
        "format": "时间格式不正确",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise self.make_error("invalid")
        result: dt.datetime = super()._deserialize(value, attr, data, **kwargs)
        try:
            # 0001-01-01T00:00:00+14:00 parses, but has no UTC instant to compare or convert.
            result.astimezone(dt.UTC)
        except OverflowError:
            raise self.make_error("invalid") from None
        return result


class Choice(fields.String):
    """One of a fixed set of codes."""

    default_error_messages = {**COMMON_MESSAGES, "invalid": "应为文本", "choice": "不是可选的值"}  # noqa: RUF012

    def __init__(self, choices: tuple[str, ...] | list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = tuple(choices)
        self.metadata = {"enum": list(self.choices), **self.metadata}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if value not in self.choices:
            raise self.make_error("choice")
        return value


class NestedIn(fields.Nested):
    default_error_messages = {**COMMON_MESSAGES, "type": "格式不正确，应为 JSON 对象"}  # noqa: RUF012


class ListIn(fields.List):
    default_error_messages = {**COMMON_MESSAGES, "invalid": "应为列表"}  # noqa: RUF012
