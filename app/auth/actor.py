"""The typed actor every service action takes instead of a free string.

A view builds it from whoever is logged in (a reporter's bearer token, a web
form's anonymous submitter, later a staff session); the CLI and the worker
build their own. Services record it on timeline events and audit entries and
check its role; they never read ``request`` or ``g`` to find out who acts.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid


class ActorKind(enum.StrEnum):
    REPORTER = "reporter"  # a mini-program user with a bearer token
    PUBLIC = "public"  # the anonymous web form
    STAFF = "staff"  # a procuratorate, police or unit user (staff side)
    SYSTEM = "system"  # the worker, scheduled jobs, CLI commands


@dataclasses.dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: uuid.UUID | None = None
    role: str | None = None
    office_id: int | None = None
    channel: str | None = None  # how a report came in: miniprogram, web, phone

    @classmethod
    def reporter(cls, reporter_id: uuid.UUID) -> Actor:
        return cls(ActorKind.REPORTER, id=reporter_id, role="reporter", channel="miniprogram")

    @classmethod
    def public(cls) -> Actor:
        return cls(ActorKind.PUBLIC, role="public", channel="web")

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM, role="system")

    @property
    def label(self) -> str:
        """What a timeline event records of who acted (no personal data)."""
        if self.kind in (ActorKind.REPORTER, ActorKind.PUBLIC) and self.channel:
            return f"channel:{self.channel}"
        if self.kind is ActorKind.SYSTEM:
            return f"system:{self.role}"
        return f"{self.kind.value}:{self.id}"
