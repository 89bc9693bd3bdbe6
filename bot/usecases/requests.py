"""Request a change: from a remediation offered in a report (a button), or typed (``restart``).

A read remediation runs at once (bot/usecases/diagnose.py). A change files a request that states
every step that will run, the host, the target with its identity and the runbook's impact, and
waits for its requester's confirmation. A destroy first asks its requester to type the target's
name; then the request waits for an approver who is not the requester. Deciding and executing:
bot/usecases/decisions.py, bot/usecases/execution.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError

from bot.usecases.audit import AuditRecords
from bot.usecases.commands import Asker, Place, Restart
from bot.usecases.content import (
    AlreadyRequested,
    BusUnavailable,
    ChangeNotRequested,
    ChangeRequested,
    CooldownReached,
    StaleOffer,
    TargetBusy,
    TypedNameForm,
    TypedNameWrong,
)
from bot.usecases.diagnose import Diagnoses
from bot.usecases.ports import ChangeStore, Clock, OfferStore, People
from bot.usecases.settings import ChangePolicy
from bot.usecases.speech import answer, tell
from handlers import missing_profiles, pyroscope_unavailable
from handlers.actions import ContainerParams, Offered, Plan, ServiceParams
from handlers.findings import Remediation
from handlers.registry import Runbook
from profbot.aio import BackgroundTasks
from profbot.approvals.model import ChangeRequest, PlannedStep, RequestState, TargetIdentity
from profbot.audit import AuditEvent, AuditKind
from profbot.bus import Bus
from profbot.errors import DeliveryError, ProfbotError, RedisUnavailable, TargetNotFound
from profbot.ops import OpKind
from profbot.ops.containers import ContainerInspect, VolumeInspect

log = structlog.get_logger("profbot.requests")


@dataclass(kw_only=True)
class ChangeRequests:
    bus: Bus
    people: People
    store: ChangeStore
    offers: OfferStore
    audit: AuditRecords
    book: Runbook
    diagnoses: Diagnoses
    tasks: BackgroundTasks
    policy: ChangePolicy
    job_timeout: float
    moved: Callable[[ChangeRequest], None] | None = None  # told of every request filed (the homes it concerns)
    clock: Clock = time.time

    # ------------------------------------------------------------------ what a button stands for

    async def offered(self, offer_id: str) -> Offered[Any] | None:
        """The remediation an offer stands for, resolved from the registry (its label, risk and
        impact are the registry's), or None when the offer is unknown, expired or stale. Raises
        RedisUnavailable when the offers cannot be read."""
        stored = await self.offers.get(offer_id)
        if stored is None:
            return None
        try:
            action = self.book.action_for(stored)
            params = action.parse(stored.params)
        except (KeyError, ValidationError) as exc:
            log.warning("offer_refused", offer=offer_id[:40], error=str(exc)[:300])
            return None
        return action.offered(stored.host, params)

    async def remediate(self, asker: Asker, offer_id: str) -> ChangeRequest | None:
        """A remediation's button was clicked: a read runs, a change is requested, a destroy asks
        for its target's name first."""
        try:
            found = await self.offered(offer_id)
        except RedisUnavailable as exc:
            await tell(self.people, asker, BusUnavailable(str(exc)))
            return None
        if found is None:
            await tell(self.people, asker, StaleOffer())
            return None
        remedy = found.remedy
        if remedy.kind is OpKind.READ:
            await self.diagnoses.recheck(asker, found)
            return None
        if remedy.kind is OpKind.DESTROY:
            await self._ask_typed_name(asker, offer_id, remedy)
            return None
        request = await self.file(asker, found, RequestState.AWAITING_CONFIRMATION)
        if request is not None:
            await tell(self.people, asker, ChangeRequested(request))
        return request

    async def restart(self, asker: Asker, command: Restart) -> ChangeRequest | None:
        """``restart SERVICE``: the runbook's restart, as a request to confirm (INC-PROF-001's for
        Pyroscope itself, INC-PROF-003's for a profiled service)."""
        host = await self.diagnoses.route(command.service)
        if not isinstance(host, str):
            await answer(self.people, asker, host)
            return None
        service = command.service
        offered: Offered[Any]
        if service == "pyroscope":
            offered = pyroscope_unavailable.restart.offered(host, ContainerParams(container=service))
        else:
            offered = missing_profiles.restart.offered(host, ServiceParams(service=service))
        request = await self.file(asker, offered, RequestState.AWAITING_CONFIRMATION)
        if request is not None:
            await tell(self.people, asker, ChangeRequested(request))
        return request

    # ------------------------------------------------------------------ destroy: the typed name

    async def _ask_typed_name(self, asker: Asker, offer_id: str, remedy: Remediation) -> None:
        try:
            await self.people.ask(asker, TypedNameForm(offer_id, remedy, asker.place))
        except DeliveryError as exc:
            log.warning("form_not_opened", reason=exc.reason)
            await tell(self.people, asker, StaleOffer())
            return
        await self.audit.record(self._event(AuditKind.DESTROY_OPENED, asker.user, remedy, "typed confirmation asked"))

    async def typed_name(
        self, asker: Asker, offer_id: str, typed: str
    ) -> TypedNameWrong | StaleOffer | BusUnavailable | None:
        """The form came back. A wrong name is the form's answer (it stays open); the right one
        files the request for approval (in the background: the form closes at once)."""
        try:
            found = await self.offered(offer_id)
        except RedisUnavailable as exc:
            return BusUnavailable(str(exc))
        if found is None or found.remedy.kind is not OpKind.DESTROY:
            return StaleOffer()
        remedy = found.remedy
        if typed.strip() != remedy.target:
            await self.audit.record(
                self._event(AuditKind.DESTROY_MISTYPED, asker.user, remedy, f"typed {typed[:100]!r}")
            )
            return TypedNameWrong(remedy.target)

        self.tasks.spawn(self.file(asker, found, RequestState.AWAITING_APPROVAL), name="destroy-request")
        return None

    # ------------------------------------------------------------------ filing

    async def file(self, asker: Asker, offered: Offered[Any], state: RequestState) -> ChangeRequest | None:
        """Store and post a request for the remediation offered; None (and the asker told why) when
        none was filed."""
        remedy = offered.remedy
        plan = offered.action.plan(offered.params)
        place: Place = asker.place
        draft = ChangeRequest(
            procedure=remedy.procedure, action=remedy.action, kind=remedy.kind, label=remedy.label, host=remedy.host,
            target=remedy.target, impact=remedy.impact, params=remedy.params, also_holds=list(plan.also_holds),
            host_wide=plan.host_wide,
            steps=[PlannedStep(op=s.operation.name, params=s.operation.model_dump(mode="json"), kind=s.operation.kind,
                               text=s.text) for s in plan.steps],
            requested_by=asker.user, channel=place.channel, thread_ts=place.thread, state=state,
            created_at=self.clock(), expires_at=self.clock() + self.policy.approval_ttl,
        )  # fmt: skip
        count = await self.store.executions_in_last_hour(draft, now=self.clock())
        if count >= self.policy.changes_per_hour:
            await self.audit.record(
                AuditEvent.about(
                    AuditKind.REFUSED, draft, actor=asker.user, outcome=f"cooldown: {count} in the last hour"
                )
            )
            await tell(
                self.people,
                asker,
                CooldownReached(draft.label, draft.target, draft.host, count, self.policy.changes_per_hour),
            )
            return None
        try:
            draft.identity = await self._identity(plan, remedy)
        except ProfbotError as exc:
            await tell(self.people, asker, ChangeNotRequested(str(exc)))
            return None
        return await self.tasks.run_to_end(self._filed(asker, draft, place), name=f"file-{draft.id[:8]}")

    async def _filed(self, asker: Asker, draft: ChangeRequest, place: Place) -> ChangeRequest | None:
        """Store, audit and post it, as one: once stored, the rest happens even if the asker goes."""
        requested = AuditEvent.about(AuditKind.REQUESTED, draft, actor=asker.user, outcome=draft.impact)
        stored_id = await self.store.create(draft, requested)  # audited with it, only if stored
        if stored_id != draft.id:  # a double click, the same change already waiting, or the target held
            existing = await self.store.get(stored_id)
            if existing is None or (existing.state.pending and existing.target_key == draft.target_key):
                await tell(self.people, asker, AlreadyRequested(existing or draft))
                return None
            outcome = f"target held by request {existing.id} ({existing.label}, {existing.state.value})"
            await self.audit.record(AuditEvent.about(AuditKind.REFUSED, draft, actor=asker.user, outcome=outcome))
            await tell(self.people, asker, TargetBusy(draft.label, existing))
            return None
        message = await answer(self.people, asker, draft, place)
        if message is not None:
            draft.message_ts = message.ts
            await self.store.update(draft.id, lambda r: setattr(r, "message_ts", message.ts))
        if self.moved is not None:
            self.moved(draft)
        return draft

    async def _identity(self, plan: Plan, remedy: Remediation) -> TargetIdentity | None:
        """What the target is now, read through the runner: the approval binds it."""
        if plan.binds is None:
            return None
        timeout = self.job_timeout
        if plan.binds == "container":
            try:
                state = await self.bus.call(remedy.host, ContainerInspect(container=remedy.target), timeout=timeout)
            except TargetNotFound:  # gone (a recreate brings it back): the approval binds its absence
                return TargetIdentity(kind="container", name=remedy.target, id=None)
            return TargetIdentity(kind="container", name=remedy.target, id=state.id)
        volume = await self.bus.call(remedy.host, VolumeInspect(volume=remedy.target), timeout=timeout)
        created = volume.created_at.isoformat() if volume.created_at else None
        return TargetIdentity(kind="volume", name=remedy.target, created_at=created)

    @staticmethod
    def _event(kind: AuditKind, actor: str, remedy: Remediation, outcome: str) -> AuditEvent:
        return AuditEvent(
            kind=kind, actor=actor, procedure=remedy.procedure, action=remedy.action, target=remedy.target,
            host=remedy.host, risk=remedy.kind.value, outcome=outcome,
        )  # fmt: skip
