"""The kinds of export: each feature registers what it writes (its pages import this module; nothing here imports
them), and the runner looks the writer up by the export's ``kind``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from app.core.actor import Actor
from app.crypto.vault import Vault

Progress = Callable[[int, int | None], None]  # (rows written, rows in all when known)


@dataclasses.dataclass(frozen=True)
class Work:
    """What a writer is given: who asked (checked again when the export runs), the parameters they asked with,
    the moment they asked, the vault, and where to say how far it got."""

    actor: Actor
    params: dict[str, Any]
    requested_at: dt.datetime
    vault: Vault
    progress: Progress


@dataclasses.dataclass(frozen=True)
class Kind:
    name: str
    permission: str  # held by whoever asks, when the file is written and when it is fetched
    write: Callable[[Work], Iterator[bytes]]  # the workbook's bytes, in chunks, as its rows stream


KINDS: dict[str, Kind] = {}


def register(name: str, *, permission: str, write: Callable[[Work], Iterator[bytes]]) -> Kind:
    kind = Kind(name, permission, write)
    KINDS[name] = kind
    return kind


def of(name: str) -> Kind | None:
    return KINDS.get(name)
