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
from typing import Any


class ActorKind(enum.StrEnum):
    REPORTER = "reporter"  # a mini-program user with a bearer token
    PUBLIC = "public"  # the anonymous web form
    STAFF = "staff"  # a procuratorate, police or unit user (staff side)
    SYSTEM = "system"  # the worker, scheduled jobs, CLI commands
    INSTITUTION = "institution"  # a hospital or hotline system, through the signed institutional API


@dataclasses.dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: uuid.UUID | None = None
    role: str | None = None
    office_id: int | None = None
    channel: str | None = None  # how a report came in: miniprogram, web, phone, institution
    # Where the act came from, for the audit log (the view fills these in; services never read a request).
    ip: str | None = None
    request_id: str | None = None
    police_unit_id: int | None = None
    unit_id: int | None = None

    @classmethod
    def reporter(cls, reporter_id: uuid.UUID) -> Actor:
        return cls(ActorKind.REPORTER, id=reporter_id, role="reporter", channel="miniprogram")

    @classmethod
    def public(cls) -> Actor:
        return cls(ActorKind.PUBLIC, role="public", channel="web")

    @classmethod
    def staff(cls, user: Any, *, ip: str | None = None, request_id: str | None = None) -> Actor:
        """A staff user (``app.auth.models.StaffUser``) acting."""
        return cls(ActorKind.STAFF, id=user.id, role=user.role, office_id=user.office_id, ip=ip,
                   request_id=request_id, police_unit_id=user.police_unit_id, unit_id=user.unit_id)

    @classmethod
    def institution(cls, institution_id: uuid.UUID, office_id: int) -> Actor:
        """An institution's own system sending a report (``app.institutions``)."""
        return cls(ActorKind.INSTITUTION, id=institution_id, role="institution", office_id=office_id,
                   channel="institution")

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM, role="system")

    @property
    def label(self) -> str:
        """What a timeline event records of who acted (no personal data)."""
        if self.kind in (ActorKind.REPORTER, ActorKind.PUBLIC, ActorKind.INSTITUTION) and self.channel:
            return f"channel:{self.channel}"
        if self.kind is ActorKind.SYSTEM:
            return f"system:{self.role}"
        return f"{self.kind.value}:{self.id}"
