"""The audit trail: every request, decision, execution, result and refusal, as typed events in a
Redis stream (``P:audit``, profbot/keys.py).

Redis is the record; a front end may mirror it (bot/usecases/audit.py). Events are written and read
back as :class:`AuditEvent`, whose ``kind`` is one of :class:`AuditKind`. A change request's own
moves (filed, decided, expired, ended, verified) are written with their event, in the same script
(profbot/approvals/store.py), to this same stream in this same form: a process killed between
the two cannot leave one without the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import redis.asyncio as aioredis
import structlog
from pydantic import BaseModel, Field, ValidationError

from profbot.approvals.model import ChangeRequest
from profbot.keys import Keys
from profbot.redis_access import redis_errors

log = structlog.get_logger("profbot.audit")

AUDIT_MAXLEN = 100_000
MAX_OUTCOME_CHARS = 2000


class AuditKind(StrEnum):
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"  # a change's outcome is unknown
    VERIFIED = "verified"
    REFUSED = "refused"  # a command, button or decision that was not allowed
    DESTROY_OPENED = "destroy_opened"  # the typed confirmation was asked for
    DESTROY_MISTYPED = "destroy_mistyped"
    DEAD_LETTER = "dead_letter"  # alert notifications no update could post, set aside
    SILENCED = "silenced"  # a silence made from an alert thread (target: its id; outcome: its matchers)
    SILENCE_EXTENDED = "silence_extended"
    SILENCE_EXPIRED = "silence_expired"
    ACKNOWLEDGED = "acknowledged"  # someone took an alert group on ("I'm on it")
    RELEASED = "released"


class AuditEvent(BaseModel):
    kind: AuditKind
    at: float = Field(default_factory=time.time)
    actor: str | None = None  # who; None: profbot itself
    request_id: str | None = None
    procedure: str | None = None
    action: str | None = None
    target: str | None = None
    host: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    risk: str | None = None  # read, change or destroy
    outcome: str | None = None

    @classmethod
    def about(
        cls, kind: AuditKind, request: ChangeRequest, *, actor: str | None, outcome: str | None = None
    ) -> AuditEvent:
        return cls(
            kind=kind,
            actor=actor,
            request_id=request.id,
            procedure=request.procedure,
            action=request.action,
            target=request.target,
            host=request.host,
            channel=request.channel,
            thread_ts=request.thread_ts or request.message_ts,
            risk=request.kind.value,
            outcome=outcome,
        )

    def to_fields(self) -> dict[str, str]:
        """The stream entry: strings only, empty fields left out."""
        fields = self.model_dump(mode="json", exclude_none=True)
        if "outcome" in fields:
            fields["outcome"] = fields["outcome"][:MAX_OUTCOME_CHARS]
        # The stream's field names since the first release: "event" is the kind of event, "kind"
        # the request's risk.
        fields["event"] = fields.pop("kind")
        if "risk" in fields:
            fields["kind"] = fields.pop("risk")
        fields["at"] = f"{self.at:.3f}"
        return {k: str(v) for k, v in fields.items()}

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> AuditEvent:
        """An entry read back. Raises ValidationError for one this version cannot read."""
        data = {k: v for k, v in fields.items() if k in cls.model_fields and k != "kind" and v not in ("", None)}
        if fields.get("kind"):
            data["risk"] = fields["kind"]
        return cls.model_validate({**data, "kind": fields.get("event")})


# A change request's write that is audited with it: the event, made from the request as written.
Audited = Callable[[ChangeRequest], AuditEvent]


def stream_entry(event: AuditEvent) -> list[str]:
    """The event's stream fields, flat (field, value, field, value...), for a script's XADD."""
    return [item for pair in event.to_fields().items() for item in pair]


def logged(event: AuditEvent) -> None:
    """Log an event once it is in the stream."""
    log.info("audit", audit_event=event.kind.value, actor=event.actor, request=event.request_id)


class AuditLog:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.stream = Keys(prefix).audit

    async def append(self, event: AuditEvent) -> str:
        with redis_errors():
            entry_id = await self.redis.xadd(self.stream, event.to_fields(), maxlen=AUDIT_MAXLEN, approximate=True)  # type: ignore[arg-type]
        logged(event)
        return str(entry_id)

    async def latest(self, count: int) -> list[AuditEvent]:
        with redis_errors():
            raw: Any = await self.redis.xrevrange(self.stream, count=count)
        events = []
        for entry_id, fields in raw:
            try:
                events.append(AuditEvent.from_fields(dict(fields)))
            except ValidationError:  # written by another version of profbot: listed elsewhere, not here
                log.warning("audit_entry_unreadable", entry_id=entry_id)
        return events
