"""Execute a running change request, step by step, then verify it.

Each step goes to the request's host as a job carrying the request's id: the runner runs it only
as a step of that running request, once, and on the very target the request bound
(profbot/approvals/store.py, runner/worker.py). The request's message is updated in place as each
step finishes; a step that fails stops the rest. Lost contact after a step was sent means the
outcome is unknown, never "failed". After the steps, the plan's verification runs by itself and
its finding goes to the thread. At most ``changes_per_hour`` executions per change and target.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from pydantic import ValidationError

from bot.usecases.audit import AuditRecords
from bot.usecases.commands import Place
from bot.usecases.content import ChangeAbandoned, Verified
from bot.usecases.ports import ChangeFeed, ChangeStore, Clock, MessageRef, People
from bot.usecases.settings import ChangePolicy
from bot.usecases.speech import post, reply, show
from handlers.context import ProcedureContext
from handlers.findings import Finding, Severity
from handlers.registry import Runbook
from profbot.aio import sleep_or_stop
from profbot.approvals.model import ChangeRequest, RequestState, StepOutcome
from profbot.approvals.store import renew_interval
from profbot.audit import AuditEvent, AuditKind
from profbot.bus import Bus
from profbot.errors import JobTimeout, OutcomeUnknown, ProfbotError, RedisUnavailable
from profbot.ops import CATALOG, ChangeResult

log = structlog.get_logger("profbot.execution")


@dataclass(kw_only=True)
class Executor:
    bus: Bus
    people: People
    store: ChangeStore
    audit: AuditRecords
    book: Runbook
    policy: ChangePolicy
    job_timeout: float
    feed: ChangeFeed | None = None  # front ends in other processes hear of every move through it
    moved: Callable[[ChangeRequest], None] | None = None  # told of every move (the homes it concerns)
    clock: Clock = time.time

    async def execute(self, request: ChangeRequest) -> None:
        done = asyncio.Event()
        renewing = asyncio.create_task(self._keep_lease(request.id, done), name=f"lease-{request.id[:8]}")
        try:
            await self._execute_once(request)
        finally:
            done.set()
            await asyncio.gather(renewing, return_exceptions=True)

    async def _keep_lease(self, request_id: str, done: asyncio.Event) -> None:
        """Tell the reaper this process still runs the request, until it is over."""
        while not done.is_set():
            await self._lease_at_least(request_id, self.policy.executor_lease)  # Redis away: the next may make it
            await sleep_or_stop(done, renew_interval(self.policy.executor_lease))

    async def _lease_at_least(self, request_id: str, seconds: float) -> None:
        try:
            await self.store.lease(request_id, seconds)
        except ProfbotError as exc:
            log.warning("lease_not_renewed", request=request_id, error=str(exc)[:200])

    async def abandon(self, request_id: str) -> ChangeRequest | None:
        """The reaper's move: a running request nobody executes any more (its bot died after the
        confirmation) becomes "outcome unknown", in its message, its thread and the audit; the
        runners stop authorising its steps, which they do only for a running request."""
        before = await self.store.get(request_id)
        # The lease that lapsed: a step's deadline plus the lease when the executor died mid-step.
        silent = await self.store.lease_of(request_id) or self.policy.executor_lease
        current = await self._finish(
            request_id, RequestState.UNKNOWN,
            f"no profbot process has been running it for over {silent:.0f}s (it stopped without finishing): outcome "
            "unknown; its remaining steps will not run. Check the target's state before trying again",
        )  # fmt: skip
        if current is None or before is None:
            return None
        thread = current.thread_ts or current.message_ts
        if thread:
            await reply(self.people, MessageRef(channel=current.channel, ts=thread), ChangeAbandoned(current, silent))
        return current

    async def _execute_once(self, request: ChangeRequest) -> None:
        try:
            await self._execute(request)
        except asyncio.CancelledError:
            # Shutdown cut it off mid-way: say so, rather than leave it "running" for ever.
            await asyncio.shield(
                self._finish(request.id, RequestState.UNKNOWN, "profbot stopped while running it: check the target")
            )
            raise
        except Exception as exc:
            log.exception("change_crashed", request=request.id)
            await self._finish(request.id, RequestState.UNKNOWN, f"profbot failed while running it: {exc}")

    async def _execute(self, request: ChangeRequest) -> None:
        if not await self.store.take_execution_slot(request, self.policy.changes_per_hour, now=self.clock()):
            count = await self.store.executions_in_last_hour(request, now=self.clock())
            limit = self.policy.changes_per_hour
            await self._finish(
                request.id, RequestState.FAILED,
                f"{request.label} already ran {count} times on {request.target} in the last hour (limit {limit}): "
                "repeating it is not fixing it; escalate to the Pyroscope owners. Nothing was run",
            )  # fmt: skip
            return
        await self.audit.record(AuditEvent.about(AuditKind.EXECUTING, request, actor=request.decided_by))
        for index, step in enumerate(request.steps):
            operation = CATALOG.parse(step.op, step.params)
            budget = max(self.job_timeout, operation.time_budget())
            # Were this process to die now, the runner could still be running the step until its
            # deadline: the request is not reaped, nor its target freed, before that.
            await self._lease_at_least(request.id, budget + self.policy.executor_lease)
            try:
                result = await self.bus.call(
                    request.host, operation, timeout=budget,
                    requested_by=request.decided_by, approval_id=request.id,
                )  # fmt: skip
            except ProfbotError as exc:
                await self._record(request.id, StepOutcome(index=index, ok=False, error=str(exc)[:1500]))
                # Lost contact (Redis, no answer) after the job went out: it may have run.
                lost = isinstance(exc, OutcomeUnknown | JobTimeout | RedisUnavailable)
                state = RequestState.UNKNOWN if lost else RequestState.FAILED
                await self._finish(request.id, state, f"step {index + 1} ({step.op}): {exc}")
                return
            lines = result.steps if isinstance(result, ChangeResult) else [result.model_dump_json()[:300]]
            current = await self._record(request.id, StepOutcome(index=index, ok=True, lines=lines))
            if current is not None:
                await self.show(current)
        finished = await self._finish(request.id, RequestState.SUCCEEDED, None)
        if finished is not None:
            await self.verify(finished)

    async def _record(self, request_id: str, outcome: StepOutcome) -> ChangeRequest | None:
        return await self.store.update(request_id, lambda r: r.outcomes.append(outcome))

    async def _finish(self, request_id: str, state: RequestState, error: str | None) -> ChangeRequest | None:
        def done(r: ChangeRequest) -> None:
            r.finished_at, r.error = self.clock(), error

        def audited(r: ChangeRequest) -> AuditEvent:  # written with the move: a kill cannot part them
            outcome = error or "; ".join(line for o in r.outcomes for line in o.lines)
            return AuditEvent.about(AuditKind(state.value), r, actor=r.decided_by, outcome=outcome)

        moved, current = await self.store.transition(request_id, state, {RequestState.RUNNING}, done, audited)
        if not moved or current is None:
            return None
        await self.show(current)
        return current

    async def verify(self, request: ChangeRequest) -> Finding:
        """The plan's verification (``/ready`` within the budget, or the diagnosis again), recorded
        on the request, audited and posted in its thread."""
        ctx = ProcedureContext(self.bus, request.host, self.job_timeout)
        try:
            action = self.book.action_named(request.procedure, request.action)
            plan = action.plan(action.parse(request.params))
            finding = await plan.verify(ctx, self.policy.verify_seconds)
        except (ProfbotError, KeyError, ValidationError) as exc:  # a request an older profbot filed, say
            finding = Finding(check="verification", severity=Severity.WARNING, detail=f"could not run: {exc}")

        def verified(r: ChangeRequest) -> None:
            r.verification, r.verification_severity = f"{finding.check}: {finding.detail}", finding.severity.value

        event = AuditEvent.about(
            AuditKind.VERIFIED, request, actor=None, outcome=f"{finding.severity}: {finding.detail}"
        )
        current = await self.store.update(request.id, verified, lambda _: event)  # audited with it
        if current is None:  # the request is gone: its verification is audited all the same
            await self.audit.record(event)
        else:
            await self.show(current)
        thread = request.thread_ts or request.message_ts
        if thread:
            await reply(self.people, MessageRef(channel=request.channel, ts=thread), Verified(request, finding))
        else:  # its request could not be posted: the result still goes where it was asked
            await post(self.people, Place(channel=request.channel), Verified(request, finding))
        return finding

    async def show(self, request: ChangeRequest) -> None:
        """Update the request's message in place, as stored now; its buttons go once it is decided.
        Read again rather than trust the caller's copy: the executor may have moved on meanwhile.
        Then announce it, for a request whose message another process shows (one filed in the
        terminal and approved in Slack, say)."""
        latest = await self.store.get(request.id) or request
        if latest.message_ts:
            await show(self.people, MessageRef(channel=latest.channel, ts=latest.message_ts), latest)
        if self.feed is not None:
            try:
                await self.feed.announce(latest.id)
            except ProfbotError as exc:
                log.warning("change_unannounced", request=latest.id, error=str(exc))
        if self.moved is not None:
            self.moved(latest)

    async def refresh(self, request_id: str) -> None:
        """Another process moved a request: show it as it stands, if its message is one of ours."""
        request = await self.store.get(request_id)
        if request is not None and self.moved is not None:
            self.moved(request)
        if request is None or not request.message_ts:
            return
        message = MessageRef(channel=request.channel, ts=request.message_ts)
        if self.people.reaches(message):
            await show(self.people, message, request)
