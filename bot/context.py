"""What every listener works with: the bot's dependencies and one invocation of a command."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.access import AccessPolicy
from bot.audit import AuditLog
from bot.tasks import BackgroundTasks, SingleFlight
from handlers.findings import Report
from handlers.registry import ProcedureRegistry
from profbot.approvals import ApprovalStore
from profbot.bus import JobBus


@dataclass(frozen=True)
class ChangePolicy:
    approval_ttl: float = 900.0  # seconds a request waits for its confirmation or approval
    changes_per_hour: int = 3  # the same change on the same target, per hour
    verify_seconds: float = 60.0  # the budget of the verification after a change


@dataclass(frozen=True)
class BotDeps:
    bus: JobBus
    client: AsyncWebClient
    tasks: BackgroundTasks
    runbook: ProcedureRegistry
    command: str
    job_timeout: float
    reports: SingleFlight[Report]
    approvals: ApprovalStore
    audit: AuditLog
    access: AccessPolicy
    change_policy: ChangePolicy


@dataclass(frozen=True)
class Invocation:
    deps: BotDeps
    user_id: str
    channel_id: str
    args: list[str]
    ack: AsyncAck
    respond: AsyncRespond
