"""A change request binds exactly what will run: the procedure and action, the host, every step's
operation and arguments, and the identity of the target when it was requested (container id;
volume name and creation time). The bot moves it through its states (profbot/approvals/rules.py);
a runner executes a change step only when its job names a request that is ``running`` and lists
that very step, and each step runs at most once per request, whatever the bot sends."""

from __future__ import annotations

import time
import uuid
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from profbot.ops import OpKind


class RequestState(StrEnum):
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"  # a step's outcome is unknown (cut off, runner stopped): check by hand
    EXPIRED = "expired"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def pending(self) -> bool:
        return self in PENDING

    @property
    def holds_target(self) -> bool:
        return self in HOLDING


PENDING = frozenset({RequestState.AWAITING_CONFIRMATION, RequestState.AWAITING_APPROVAL})
# The states in which a request holds its target: no other change on it is filed meanwhile.
HOLDING = PENDING | {RequestState.RUNNING}


class TargetIdentity(BaseModel):
    """What the target was when the change was requested; a runner refuses if it is not that any more."""

    kind: Literal["container", "volume"]
    name: str
    id: str | None = None  # a container's id
    created_at: str | None = None  # a volume's creation time, as podman reports it

    def describe(self) -> str:
        if self.kind == "container":
            return f"container {self.name} ({(self.id or '?')[:12]})"
        return f"volume {self.name} (created {self.created_at or '?'})"


class PlannedStep(BaseModel):
    op: str
    params: dict[str, Any]
    kind: OpKind
    text: str  # what the step does, in the runbook's words


class StepOutcome(BaseModel):
    index: int
    ok: bool
    lines: list[str] = []
    error: str | None = None


class ChangeRequest(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    procedure: str
    action: str
    kind: OpKind
    label: str  # the action's own label from the registry, e.g. "Delete volume pyroscope_data"
    host: str
    target: str
    impact: str  # what the runbook says it costs
    params: dict[str, Any] = {}  # the action's parameters, from which its plan is made again
    steps: list[PlannedStep]
    identity: TargetIdentity | None = None
    also_holds: list[str] = []  # other containers or volumes its steps touch (purge: the container)
    host_wide: bool = False  # it touches every container on the host: no other change there meanwhile
    requested_by: str
    channel: str
    thread_ts: str | None = None
    message_ts: str | None = None
    state: RequestState
    created_at: float = Field(default_factory=time.time)
    expires_at: float
    decided_by: str | None = None  # who confirmed, approved, rejected or cancelled it
    decided_at: float | None = None
    finished_at: float | None = None
    outcomes: list[StepOutcome] = []
    error: str | None = None
    verification: str | None = None  # what the check after the steps found
    verification_severity: str | None = None  # ok, info, warning or critical

    @property
    def target_key(self) -> str:
        """The change on its target: one open request, and an hourly budget, per target key."""
        return f"{self.host}:{self.procedure}:{self.action}:{self.target}"

    @property
    def hold_keys(self) -> list[str]:
        """Each container or volume it touches, on its host: one change at a time on each, whichever change."""
        return sorted({f"{self.host}:{name}" for name in (self.target, *self.also_holds)})

    def contends_with(self, other: ChangeRequest) -> bool:
        """Whether the two cannot both hold: they touch the same thing, or one touches the whole host."""
        if self.host == other.host and (self.host_wide or other.host_wide):
            return True
        return bool(set(self.hold_keys) & set(other.hold_keys))

    @property
    def held_since(self) -> float:
        """Since when it holds its target: its filing, or while it runs, the decision that started it."""
        return self.decided_at if self.state is RequestState.RUNNING and self.decided_at else self.created_at
