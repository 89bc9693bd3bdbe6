"""What a person's home shows (Slack: the App Home tab), as domain content a front end renders
(bot/slack/render/home.py): each host's runner and Pyroscope's last known health there, the
requests waiting for this person's decision, their own requests, and for operators the latest
audit events. Built from what Redis already holds (bot/usecases/home.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from bot.usecases.commands import Role
from handlers.findings import Severity
from profbot.approvals.model import ChangeRequest
from profbot.audit import AuditEvent
from profbot.jobs import RunnerInfo


class HealthSeen(BaseModel):
    """Pyroscope's health on a host as the last health check (or INC-PROF-001 diagnosis) found it."""

    model_config = ConfigDict(frozen=True)

    host: str
    verdict: Severity
    summary: str  # the report's one-line verdict
    at: float  # when the check finished (epoch seconds)
    procedure: str  # HEALTH or INC-PROF-001


@dataclass(frozen=True)
class HostStatus:
    host: str
    alive: bool  # its runner heartbeats
    runner: RunnerInfo | None  # None: not shown to this person (no role: health only, as `health` is)
    health: HealthSeen | None  # None: not checked yet


@dataclass(frozen=True)
class HomeOverview:
    user: str
    roles: frozenset[Role]
    built_at: float
    hosts: list[HostStatus] = field(default_factory=list)
    # Destroys others requested, waiting for an approver: this person's (an approver's) to decide.
    to_decide: list[ChangeRequest] = field(default_factory=list)
    # This person's requests: open ones, and those that ended lately with how they ended; newest first.
    mine: list[ChangeRequest] = field(default_factory=list)
    audit: list[AuditEvent] | None = None  # operators only: the latest events; None for the others
    unavailable: str | None = None  # why some of it could not be read (Redis away)
