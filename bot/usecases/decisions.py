"""Decide on a change request: confirm, cancel, approve or reject; and expire what nobody decided.

What a decision does is the decision table (profbot/approvals/rules.py); it is applied with a
compare-and-set, so double clicks, retries and several bot replicas move a request once. Those
who came too late are told who decided, when, and with what result. A request that starts running
gets its executor at once (bot/usecases/execution.py). Every move and refusal is audited; a move's
event is written with the move, in the same write (a process killed right after it cannot leave
a decided request unaudited).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog

from bot.usecases.audit import AuditRecords
from bot.usecases.commands import Asker, Decide, RequestQuery, Role
from bot.usecases.content import AmbiguousRequest, DecisionRefused, RequestNotFound
from bot.usecases.execution import Executor
from bot.usecases.ports import ChangeStore, Clock, People
from bot.usecases.speech import tell
from profbot.aio import BackgroundTasks
from profbot.approvals.model import PENDING, ChangeRequest, RequestState
from profbot.approvals.rules import Decision, Move, Refusal, Standing, decide
from profbot.audit import AuditEvent, AuditKind

log = structlog.get_logger("profbot.decisions")

SWEEP_SECONDS = 2.0


@dataclass(kw_only=True)
class Decisions:
    people: People
    store: ChangeStore
    audit: AuditRecords
    executor: Executor
    tasks: BackgroundTasks
    clock: Clock = time.time

    async def decide(self, asker: Asker, request_id: str, decision: Decision) -> ChangeRequest | None:
        """Apply ``asker``'s decision; the request as it now is (None if unknown)."""
        request = await self.store.get(request_id)
        if request is None:
            await tell(self.people, asker, RequestNotFound())
            return None
        if request.state.pending and self.clock() >= request.expires_at:
            await self.expire(request.id)
            request = await self.store.get(request_id) or request
        standing = Standing(
            requester=asker.user == request.requested_by,
            operator=Role.OPERATOR in asker.roles,
            approver=Role.APPROVER in asker.roles,
        )
        outcome = decide(request.state, decision, standing)
        if isinstance(outcome, Refusal):
            if outcome is not Refusal.ALREADY_DECIDED:
                await self.audit.record(
                    AuditEvent.about(AuditKind.REFUSED, request, actor=asker.user, outcome=outcome.value)
                )
            await tell(self.people, asker, DecisionRefused(outcome, request))
            return request
        return await self._move(asker, request, outcome)

    async def _move(self, asker: Asker, request: ChangeRequest, move: Move) -> ChangeRequest | None:
        return await self.tasks.run_to_end(self._moved(asker, request, move), name=f"decide-{request.id[:8]}")

    async def _moved(self, asker: Asker, request: ChangeRequest, move: Move) -> ChangeRequest | None:
        now = self.clock()

        def decided(r: ChangeRequest) -> None:
            r.decided_by, r.decided_at = asker.user, now

        def audited(r: ChangeRequest) -> AuditEvent:
            return AuditEvent.about(AuditKind(move.verb.value), r, actor=asker.user)

        moved, current = await self.store.transition(request.id, move.to, PENDING, decided, audited)
        if not moved or current is None:
            await tell(self.people, asker, DecisionRefused(Refusal.ALREADY_DECIDED, current or request))
            return current
        if move.to is RequestState.RUNNING:
            # Started before anything else can fail: a running request always has its executor.
            self.tasks.spawn(self.executor.execute(current), name=f"change-{current.id[:8]}")
        await self.executor.show(current)
        return current

    async def decide_typed(self, asker: Asker, command: Decide) -> ChangeRequest | None:
        """A decision typed with the request's id (or its start): the same decision as a button's;
        the asker is shown the request as it then stands."""
        request_id = await self.find(asker, command.request)
        if request_id is None:
            return None
        before = await self.store.get(request_id)
        await self.decide(asker, request_id, command.decision)
        after = await self.store.get(request_id)
        if after is not None and before is not None and after.state is not before.state:
            await tell(self.people, asker, after)
        return after

    async def show_request(self, asker: Asker, command: RequestQuery) -> ChangeRequest | None:
        request_id = await self.find(asker, command.request)
        request = await self.store.get(request_id) if request_id else None
        if request is not None:
            await tell(self.people, asker, request)
        return request

    async def find(self, asker: Asker, prefix: str) -> str | None:
        """The one request whose id starts with ``prefix``; None, and the asker told why, otherwise."""
        found = await self.store.ids_starting_with(prefix)
        if len(found) == 1:
            return found[0]
        await tell(self.people, asker, AmbiguousRequest(prefix, len(found)) if found else RequestNotFound())
        return None

    async def expire(self, request_id: str) -> None:
        def audited(r: ChangeRequest) -> AuditEvent:
            return AuditEvent.about(AuditKind.EXPIRED, r, actor=None, outcome="nobody decided in time")

        moved, current = await self.store.transition(request_id, RequestState.EXPIRED, PENDING, audit=audited)
        if moved and current is not None:
            await self.executor.show(current)

    async def sweep_once(self) -> None:
        """Expire requests nobody decided in time, and reap running ones whose executor died (each
        state change happens once, whoever sweeps; profbot/schedule.py has one replica sweep)."""
        for request_id in await self.store.due_for_expiry(self.clock()):
            await self.expire(request_id)
        for request_id in await self.store.abandoned():
            log.warning("change_abandoned", request=request_id)
            await self.executor.abandon(request_id)
