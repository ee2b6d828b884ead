"""Shared marshmallow building blocks with zh-CN messages.

Every input rule lives in a marshmallow schema; these fields make the rules
strict (no silent type coercion in JSON) and the messages readable. Each field
also says its rules to the OpenAPI document (``openapi_properties``, read by
``app.core.rest``), so the document states what the code enforces.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from marshmallow import RAISE, Schema, fields

from app.core.idcard import LANDLINE, MOBILE, is_phone

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


# Control and surrogate characters, the private-use block of the BMP (vendor symbols that show as
# anything or nothing); zero-width spaces, bidi overrides and byte-order marks (they hide or reorder
# text). ZWJ (U+200D) stays: emoji sequences need it. Unassigned code points stay (tomorrow's emoji),
# and so do the supplementary private-use planes: the set is then a few ranges that the OpenAPI
# document's patterns can state and that every regex dialect and generator reads.
DROPPED_CATEGORIES = frozenset({"Cc", "Cs", "Co"})
_BMP_END = "\uffff"
INVISIBLE = frozenset("\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
_LINE_BREAKS = re.compile(r"\r\n?|\u2028|\u2029")

# The same sets as regular-expression classes, for the document's patterns (Python/JSON Schema syntax).
# DROPPED: what cleaning removes (\r counts here: "\r\n" is one line break); SPACE: what it keeps but
# strips at the ends; a visible character is neither. Lone surrogates (which only a JSON escape can
# send) are dropped too, but no pattern over Unicode scalar values can name them.
_DROPPED = (
    "\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u200b\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\ufeff"
    "\\ue000-\\uf8ff"
)
_SPACE = "\\t\\n \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"


def text_pattern(min_length: int, *, blank_allowed: bool) -> str | None:
    """A pattern true exactly when cleaning leaves at least ``min_length`` characters (or nothing, if blank
    is allowed): a visible character, at least ``min_length - 2`` more kept ones, and a last visible one."""
    dropped, kept, visible = f"[{_DROPPED}]", f"[^{_DROPPED}]", f"[^{_DROPPED}{_SPACE}]"
    if min_length <= 1:
        # Anchored, not a bare class: schemathesis rewrites a one-class pattern with the length limits.
        return None if blank_allowed else f"^[{_DROPPED}{_SPACE}]*{visible}"
    pattern = f"^[{_DROPPED}{_SPACE}]*{visible}(?:{dropped}*{kept}){{{min_length - 2},}}{dropped}*{visible}"
    return f"{blank_pattern()}|{pattern}" if blank_allowed else pattern


def blank_pattern() -> str:
    """True of a text that cleaning leaves empty."""
    return f"^[{_DROPPED}{_SPACE}]*$"


def text_length(value: str) -> int:
    """A text's length as sent, a line break counting once whichever way it is written."""
    return len(_LINE_BREAKS.sub("\n", value))


def clean_text(value: str, *, multiline: bool) -> str:
    """Drop control, surrogate, BMP private-use and invisible characters; keep newlines in multiline text."""
    value = _LINE_BREAKS.sub("\n", value)
    out = []
    for ch in value:
        if ch == "\n":
            out.append("\n" if multiline else " ")
        elif ch == "\t":
            out.append(" ")
        elif (unicodedata.category(ch) in DROPPED_CATEGORIES and ch <= _BMP_END) or ch in INVISIBLE:
            continue
        else:
            out.append(ch)
    return "".join(out).strip()


class Text(fields.String):
    """A free text: at most ``max_length`` characters as sent, then cleaned; at least ``min_length`` left.

    Empty after cleaning counts as missing (None where the field allows it).
    """

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

    def openapi_properties(self, ret: dict[str, Any]) -> dict[str, Any]:
        """maxLength as sent; the pattern says what cleaning must leave."""
        properties: dict[str, Any] = {"maxLength": self.max_length}
        if not self.allow_none:
            properties["minLength"] = self.min_length
        pattern = text_pattern(self.min_length, blank_allowed=self.allow_none)
        if pattern:
            properties["pattern"] = pattern
        return properties

    # A blank optional text is None (missing), hence the wider return type than String's.
    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> str | None:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        # Measured as sent too: what cleaning drops still counts, so the document's maxLength holds.
        if text_length(value) > self.max_length:
            raise self.make_error("too_long", max=self.max_length)
        text = clean_text(value, multiline=self.multiline)
        if not text:
            if self.allow_none:
                return None
            raise self.make_error("required")
        if len(text) < self.min_length:
            raise self.make_error("too_short", min=self.min_length)
        return text


class Code(fields.String):
    """A token from a client or provider (a WeChat code): visible ASCII only, refused rather than cleaned."""

    PATTERN = re.compile(r"^[!-~]+$")
    default_error_messages = {  # noqa: RUF012
        **COMMON_MESSAGES,
        "invalid": "应为文本",
        "too_long": "不能超过 {max} 个字符",
        "characters": "格式不正确：只能包含英文字母、数字和符号，不能有空格或控制字符",
    }

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def openapi_properties(self, ret: dict[str, Any]) -> dict[str, Any]:
        return {"minLength": 1, "maxLength": self.max_length, "pattern": self.PATTERN.pattern}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if not value:
            raise self.make_error("required")
        if len(value) > self.max_length:
            raise self.make_error("too_long", max=self.max_length)
        if not self.PATTERN.fullmatch(value):
            raise self.make_error("characters")
        return value


class DistrictCode(Code):
    """A six-digit administrative division code (行政区划代码)."""

    PATTERN = re.compile(r"[0-9]{6}")
    default_error_messages = {**Code.default_error_messages, "characters": "应为6位数字的行政区划代码"}  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=6, **kwargs)


class StrictBool(fields.Boolean):
    """Only JSON true/false."""

    default_error_messages = {**COMMON_MESSAGES, "invalid": "应为是或否（true/false）"}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if isinstance(value, bool):
            return value
        raise self.make_error("invalid")


INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class StrictInt(fields.Integer):
    """A JSON integer (not a float, a string or a boolean) that fits a 32-bit column."""

    default_error_messages = {**COMMON_MESSAGES, "invalid": "应为整数", "too_large": "数值超出范围"}  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def openapi_properties(self, ret: dict[str, Any]) -> dict[str, Any]:
        return {"minimum": ret.get("minimum", INT32_MIN), "maximum": ret.get("maximum", INT32_MAX)}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number: int = super()._deserialize(value, attr, data, **kwargs)
        # Beyond a 32-bit column the database driver raises instead of finding nothing.
        if not INT32_MIN <= number <= INT32_MAX:
            raise self.make_error("too_large")
        return number


class QueryInt(fields.Integer):
    """An integer query argument: ASCII digits only (``int()`` would also take " 5", "+5" and "٥")."""

    PATTERN = re.compile(r"^-?[0-9]{1,10}$")
    default_error_messages = {**COMMON_MESSAGES, "invalid": "应为整数"}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str) or not self.PATTERN.fullmatch(value):
            raise self.make_error("invalid")
        number: int = super()._deserialize(value, attr, data, **kwargs)
        return number


class AwareDateTime(fields.AwareDateTime):
    """RFC 3339 with an offset, e.g. 2026-11-20T10:30:00+08:00: exactly the document's pattern."""

    PATTERN = re.compile(
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
    )
    default_error_messages = {  # noqa: RUF012
        **COMMON_MESSAGES,
        "invalid": "时间格式不正确，应为 ISO 8601 格式并带时区，如 2026-11-20T10:30:00+08:00",
        "invalid_awareness": "时间须带时区，如 +08:00",
        "format": "时间格式不正确",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def openapi_properties(self, ret: dict[str, Any]) -> dict[str, Any]:
        return {"pattern": self.PATTERN.pattern}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        if not isinstance(value, str) or not self.PATTERN.fullmatch(value):
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

    def openapi_properties(self, ret: dict[str, Any]) -> dict[str, Any]:
        return {"enum": [*self.choices, None] if self.allow_none else list(self.choices)}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        if value not in self.choices:
            raise self.make_error("choice")
        return value


class NestedIn(fields.Nested):
    """A section object; a nullable one is documented as "this schema or null", never as any object."""

    default_error_messages = {**COMMON_MESSAGES, "type": "格式不正确，应为 JSON 对象"}  # noqa: RUF012

    # OpenAPI 3.0's null: ``nullable`` counts only beside ``type``, so "null and nothing else" needs the enum.
    NULL_ONLY = {"type": "object", "nullable": True, "enum": [None]}  # noqa: RUF012

    def openapi_properties(self, ret: dict[str, Any]) -> dict[str, Any]:
        # apispec writes a nullable reference as anyOf [any object or null, the schema]: any object passes.
        refs = [item for item in ret.get("anyOf", []) if "$ref" in item]
        if refs:
            ret["anyOf"] = [*refs, dict(self.NULL_ONLY)]
        return {}


class ListIn(fields.List):
    """A list with a size range and, if ``unique``, no repeated item; each rule has its own message."""

    default_error_messages = {  # noqa: RUF012
        **COMMON_MESSAGES,
        "invalid": "应为列表",
        "too_few": "至少需要 {min} 项",
        "too_many": "最多 {max} 项",
        "unique": "不能重复",
    }

    def __init__(
        self, cls_or_instance: Any, *, min_items: int, max_items: int, unique: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(cls_or_instance, **kwargs)
        self.min_items, self.max_items, self.unique = min_items, max_items, unique

    def openapi_properties(self, ret: dict[str, Any]) -> dict[str, Any]:
        properties: dict[str, Any] = {"minItems": self.min_items, "maxItems": self.max_items}
        if self.unique:
            properties["uniqueItems"] = True
        return properties

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        if isinstance(value, list) and len(value) < self.min_items:
            raise self.make_error("too_few", min=self.min_items)
        if isinstance(value, list) and len(value) > self.max_items:
            raise self.make_error("too_many", max=self.max_items)
        items: list[Any] = super()._deserialize(value, attr, data, **kwargs)
        if self.unique and len({repr(item) for item in items}) != len(items):
            raise self.make_error("unique")
        return items


def csv_flag(cell: str) -> bool | str | None:
    """A yes/no cell of an imported sheet: 是/否 become booleans, an empty cell None (the default); anything else
    is left for the schema's Boolean field, which takes true/false, yes/no, 1/0 in any case and refuses the rest,
    so a typo makes the row bad instead of silently active."""
    value = cell.strip()
    if not value:
        return None
    return {"是": True, "否": False}.get(value, value)


class Phone(Text):
    default_error_messages = {  # noqa: RUF012
        **Text.default_error_messages,
        "phone": "请填写11位手机号码，或带区号的固定电话（如 0571-88888888）",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=20, **kwargs)

    def openapi_properties(self, ret: dict[str, Any]) -> dict[str, Any]:
        # As the document states it: ASCII digits (full-width ones and spaces are also taken, and dropped).
        pattern = f"^(?:{MOBILE.pattern[1:-1]}|{LANDLINE.pattern[1:-1]})$"
        return {"maxLength": 20, "pattern": f"{blank_pattern()}|{pattern}" if self.allow_none else pattern}

    # A blank optional text is None (missing), hence the wider return type than String's.
    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            return None
        # Full-width digits from a Chinese IME become ASCII; other scripts' digits (which \d takes) are refused.
        text = unicodedata.normalize("NFKC", text).replace(" ", "")
        if not text.isascii() or not is_phone(text):
            raise self.make_error("phone")
        return text
