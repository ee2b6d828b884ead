"""Resident identity numbers (GB 11643-1999) and phone numbers."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^[1-9][0-9]{16}[0-9X]$")

MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
LANDLINE = re.compile(r"^0[0-9]{2,3}-?[0-9]{7,8}(-[0-9]{1,6})?$")


def normalise_id_number(value: str) -> str:
    return value.strip().upper()


def check_digit(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def birth_date(id_number: str) -> dt.date | None:
    """The birth date of a well-formed ID number with a right check digit, else None."""
    if not _ID_SHAPE.match(id_number) or check_digit(id_number[:17]) != id_number[17]:
        return None
    try:
        return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def is_phone(value: str) -> bool:
    return bool(MOBILE.match(value) or LANDLINE.match(value))


def normalise_name(value: str) -> str:
    """A person's name as a blind index compares it: full-width forms folded (NFKC), every space removed."""
    return "".join(unicodedata.normalize("NFKC", value).split())
