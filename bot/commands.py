"""The ``/prof`` subcommands.

Each handler acknowledges first (Slack's 3-second deadline) and hands anything that touches
Redis or a runner to :class:`~bot.tasks.BackgroundTasks`, so an ``ack`` never waits on I/O.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog

from bot import changes, diagnoses, messages
from bot.context import BotDeps, Invocation
from bot.posting import answering_errors, post_in_channel
from handlers.findings import Finding, Report, Severity
from handlers.health import HealthParams
from handlers.registry import ProcedureContext
from profbot.errors import NoRunner, RedisUnavailable
from profbot.settings import NAME_PATTERN

log = structlog.get_logger("profbot.commands")


Handler = Callable[[Invocation], Awaitable[None]]


class SubcommandTable:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, name: str) -> Callable[[Handler], Handler]:
        if name not in messages.COMMAND_HELP:
            raise ValueError(f"subcommand {name!r} has no help line in bot/messages.py")

        def decorate(fn: Handler) -> Handler:
            self._handlers[name] = fn
            return fn

        return decorate

    def check_complete(self) -> None:
        missing = sorted(set(messages.COMMAND_HELP) - set(self._handlers))
        if missing:
            raise RuntimeError(f"help lists subcommands with no handler: {', '.join(missing)}")

    async def dispatch(self, inv: Invocation, name: str) -> None:
        handler = self._handlers.get(name)
        if handler is None:
            await inv.ack(**messages.unknown_command(inv.deps.command, name).as_kwargs())
            return
        await handler(inv)


SUBCOMMANDS = SubcommandTable()


@SUBCOMMANDS.register("help")
async def help_command(inv: Invocation) -> None:
    await inv.ack(**messages.help_message(inv.deps.command).as_kwargs())


@SUBCOMMANDS.register("health")
async def health_command(inv: Invocation) -> None:
    host = inv.args[0] if inv.args else None
    if host is not None and not re.match(NAME_PATTERN, host):
        await inv.ack(text=messages.not_a_host(host))
        return
    await inv.ack(text=messages.health_ack())
    inv.deps.tasks.spawn(run_health(inv, host), name=f"health-{inv.channel_id}")


@SUBCOMMANDS.register("runners")
async def runners_command(inv: Invocation) -> None:
    await inv.ack()

    async def answer() -> None:
        async with answering_errors(inv):
            await _answer()

    async def _answer() -> None:
        try:
            runners = await inv.deps.bus.runners()
            alive = await inv.deps.bus.alive_hosts([r.host for r in runners])
            message = messages.runners_message(runners, alive)
        except RedisUnavailable as exc:
            message = messages.bus_unavailable(str(exc))
        await inv.respond(response_type="ephemeral", **message.as_kwargs())

    inv.deps.tasks.spawn(answer(), name="runners")


SUBCOMMANDS.register("diagnose")(diagnoses.diagnose_command)
SUBCOMMANDS.register("freshness")(diagnoses.freshness_command)
SUBCOMMANDS.register("runbook")(diagnoses.runbook_command)
SUBCOMMANDS.register("onboard")(diagnoses.onboard_command)
SUBCOMMANDS.register("baselines")(diagnoses.baselines_command)
SUBCOMMANDS.register("datasource")(diagnoses.datasource_command)
SUBCOMMANDS.register("upgrade")(diagnoses.upgrade_command)
SUBCOMMANDS.register("rollback")(diagnoses.rollback_command)
SUBCOMMANDS.register("restart")(changes.restart_command)
SUBCOMMANDS.register("audit")(changes.audit_command)
SUBCOMMANDS.check_complete()


# ---------------------------------------------------------------------------- health


async def health_reports(deps: BotDeps, host: str | None) -> list[Report] | messages.Message:
    """One health report per host (or for ``host``), or the message saying why there are none."""
    try:
        if host is not None:
            hosts = [host]
        else:
            hosts = [r.host for r in await deps.bus.runners()]
            if not hosts:
                return messages.no_runner_registered()
    except RedisUnavailable as exc:
        return messages.bus_unavailable(str(exc))
    procedure = deps.runbook.get("HEALTH")
    assert procedure is not None

    async def one(h: str) -> Report:
        try:
            await deps.bus.ensure_runner(h)
        except NoRunner as exc:
            return Report(
                procedure="HEALTH",
                title="Pyroscope health",
                host=h,
                findings=[Finding(check="runner", severity=Severity.CRITICAL, detail=str(exc))],
                finished_at=datetime.now(UTC),
            )
        return await procedure(ProcedureContext(deps.bus, h, deps.job_timeout), HealthParams())

    async def shared(h: str) -> Report:
        return await deps.reports.run(("HEALTH", h), lambda: one(h))

    try:
        return list(await asyncio.gather(*(shared(h) for h in hosts)))
    except RedisUnavailable as exc:
        return messages.bus_unavailable(str(exc))


async def run_health(inv: Invocation, host: str | None) -> None:
    async with answering_errors(inv):
        await _run_health(inv, host)


async def _run_health(inv: Invocation, host: str | None) -> None:
    outcome = await health_reports(inv.deps, host)
    if isinstance(outcome, messages.Message):
        message = outcome
    else:
        message = messages.health_message(outcome, inv.user_id)
        log.info(
            "health_reported",
            hosts=[r.host for r in outcome],
            verdicts=[r.verdict.value for r in outcome],
            user=inv.user_id,
        )
    await post_in_channel(inv, message)
