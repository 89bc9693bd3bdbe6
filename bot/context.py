"""What every listener works with: the bot's dependencies and one invocation of a command."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.tasks import BackgroundTasks, SingleFlight
from handlers.findings import Report
from handlers.registry import ProcedureRegistry
from profbot.bus import JobBus


@dataclass(frozen=True)
class BotDeps:
    bus: JobBus
    client: AsyncWebClient
    tasks: BackgroundTasks
    runbook: ProcedureRegistry
    command: str
    job_timeout: float
    reports: SingleFlight[Report]


@dataclass(frozen=True)
class Invocation:
    deps: BotDeps
    user_id: str
    channel_id: str
    args: list[str]
    ack: AsyncAck
    respond: AsyncRespond
