"""Changes and destroys from Slack: request -> confirmation or approval -> execution -> verification.

- A change (restart, recreate, interval, profiling on/off, retention, upgrade, rollback,
  datasource) posts a request in the thread that states what will run where, and runs once its
  requester confirms.
- A destroy (deleting ``pyroscope_data``) opens a modal where the requester types the volume's
  name; the request then waits for an approver who is not the requester.
- A request binds its steps and the target's identity (``profbot.approvals``); the runner checks
  both before the first step runs. State moves by compare-and-set, so a request runs at most once
  whatever clicks, retries or replicas there are; later clicks are told who did it, when.
- After the steps, the plan's verification runs by itself and its finding goes to the thread.
Everything is appended to the audit (bot/audit.py).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.access import Role
from bot.audit import AuditLog
from bot.context import BotDeps, ChangePolicy, Invocation
from bot.posting import answering_errors, post_in_channel, tell_privately
from bot.tasks import sleep_or_stop
from handlers import missing_profiles, pyroscope_unavailable
from handlers.findings import Finding, Remediation, Severity
from handlers.registry import Plan, ProcedureContext
from profbot.approvals import (
    PENDING,
    ApprovalStore,
    ChangeRequest,
    PlannedStep,
    RequestState,
    StepOutcome,
    TargetIdentity,
)
from profbot.errors import JobTimeout, OutcomeUnknown, ProfbotError, RedisUnavailable, TargetNotFound
from profbot.ops import CATALOG, ChangeResult, ContainerInspect, ContainerState, OpKind, VolumeInfo, VolumeInspect
from profbot.settings import NAME_PATTERN

log = structlog.get_logger("profbot.changes")

# A change step may pull an image or recreate a container: it gets longer than a read.
CHANGE_STEP_TIMEOUT = 180.0
SWEEP_SECONDS = 2.0


@dataclass(frozen=True)
class Where:
    """The Slack place a request lives: its channel and the thread it belongs to."""

    channel: str
    thread_ts: str | None


class ChangeFlow:
    def __init__(self, deps: BotDeps) -> None:
        self.deps = deps
        self.store: ApprovalStore = deps.approvals
        self.audit: AuditLog = deps.audit
        self.policy: ChangePolicy = deps.change_policy

    # ------------------------------------------------------------------ requesting

    async def request(self, remedy: Remediation, user: str, where: Where, respond: Any, trigger_id: str | None) -> None:
        """A change or destroy button was clicked (or `/prof restart` typed) by an operator."""
        if remedy.kind is OpKind.DESTROY:
            await self._open_destroy_modal(remedy, user, where, respond, trigger_id)
            return
        request = await self._make_request(remedy, user, where, RequestState.AWAITING_CONFIRMATION, respond)
        if request is not None:
            await tell_privately(respond, messages.change_requested(request))

    async def _make_request(
        self, remedy: Remediation, user: str, where: Where, state: RequestState, respond: Any
    ) -> ChangeRequest | None:
        try:
            plan = self.deps.runbook.plan_for(remedy)
        except (KeyError, ValidationError, TypeError, ValueError) as exc:
            log.warning("plan_refused", procedure=remedy.procedure, action=remedy.action, error=str(exc)[:300])
            await tell_privately(respond, messages.stale_button())
            return None
        draft = ChangeRequest(
            procedure=remedy.procedure, action=remedy.action, kind=remedy.kind,
            label=f"{remedy.action} {remedy.target}", host=remedy.host, target=remedy.target,
            impact=plan.impact, params=remedy.params,
            steps=[PlannedStep(op=s.operation.name, params=s.operation.model_dump(mode="json"),
                               kind=s.operation.kind, text=s.text) for s in plan.steps],
            requested_by=user, channel=where.channel, thread_ts=where.thread_ts, state=state,
            expires_at=time.time() + self.policy.approval_ttl,
        )  # fmt: skip
        count = await self.store.executions_in_last_hour(draft)
        if count >= self.policy.changes_per_hour:
            await self.audit.append("refused", actor=user, request=draft, outcome=f"cooldown: {count} in the last hour")
            refusal = messages.cooldown_refused(
                draft.label, draft.target, draft.host, count, self.policy.changes_per_hour
            )
            await tell_privately(respond, refusal)
            return None
        try:
            draft.identity = await self._identity(plan, remedy.host)
        except ProfbotError as exc:
            await tell_privately(respond, messages.change_not_requested(str(exc)))
            return None
        stored_id = await self.store.create(draft)
        if stored_id != draft.id:  # a double click, or the same change already waiting
            existing = await self.store.get(stored_id)
            await tell_privately(respond, messages.already_requested(existing or draft))
            return None
        await self.audit.append("requested", actor=user, request=draft, outcome=draft.impact)
        draft.message_ts = await self._post(draft)
        if draft.message_ts:
            ts = draft.message_ts
            await self.store.update(draft.id, lambda r: setattr(r, "message_ts", ts))
        return draft

    async def _identity(self, plan: Plan, host: str) -> TargetIdentity | None:
        """What the target is now, read through the runner: the approval binds it."""
        if plan.binds is None:
            return None
        kind, name = plan.binds
        timeout = self.deps.job_timeout
        if kind == "container":
            try:
                state = await self.deps.bus.call(host, ContainerInspect(container=name), timeout=timeout)
            except TargetNotFound:
                return TargetIdentity(kind="container", name=name, id=None)  # bound to "absent"
            assert isinstance(state, ContainerState)
            return TargetIdentity(kind="container", name=name, id=state.id)
        volume = await self.deps.bus.call(host, VolumeInspect(volume=name), timeout=timeout)
        assert isinstance(volume, VolumeInfo)
        created = volume.created_at.isoformat() if volume.created_at else None
        return TargetIdentity(kind="volume", name=name, created_at=created)

    async def _open_destroy_modal(
        self, remedy: Remediation, user: str, where: Where, respond: Any, trigger_id: str | None
    ) -> None:
        if not trigger_id:
            await tell_privately(respond, messages.stale_button())
            return
        metadata = json.dumps(
            {"button": messages.remediation_value(remedy), "channel": where.channel, "thread": where.thread_ts}
        )
        await self.deps.client.views_open(trigger_id=trigger_id, view=messages.destroy_modal(remedy, metadata))
        await self.audit.append(
            "destroy_opened", actor=user, procedure=remedy.procedure, action=remedy.action, target=remedy.target,
            host=remedy.host, outcome="typed confirmation asked",
        )  # fmt: skip

    async def destroy_typed(self, remedy: Remediation, typed: str, user: str, where: Where) -> dict[str, Any] | None:
        """The modal was submitted: a wrong name keeps the modal open with the reason; the right
        one files the request for approval. Returns the modal's error answer, or None to close it."""
        if typed.strip() != remedy.target:
            await self.audit.append(
                "destroy_mistyped", actor=user, procedure=remedy.procedure, action=remedy.action,
                target=remedy.target, host=remedy.host, outcome=f"typed {typed[:100]!r}",
            )  # fmt: skip
            return {messages.TYPED_BLOCK: messages.typed_name_wrong(remedy.target)}

        async def tell(**kwargs: Any) -> None:
            await self.deps.client.chat_postEphemeral(channel=where.channel, user=user, text=kwargs.get("text", ""))

        async def file_request() -> None:
            await self._make_request(remedy, user, where, RequestState.AWAITING_APPROVAL, tell)

        self.deps.tasks.spawn(file_request(), name="destroy-request")
        return None

    # ------------------------------------------------------------------ deciding

    async def clicked(self, action_id: str, request_id: str, user: str, roles: frozenset[Role], respond: Any) -> None:
        async def tell(text: str) -> None:
            await tell_privately(respond, text)

        request = await self.store.get(request_id)
        if request is None:
            await tell(messages.request_not_found())
            return
        if request.state.pending and time.time() >= request.expires_at:
            await self.expire(request.id)
            request = await self.store.get(request_id) or request
        if not request.state.pending:
            await tell(messages.already_handled(request))
            return

        if action_id in (messages.CONFIRM_ACTION, messages.CANCEL_ACTION):
            if user != request.requested_by:
                await tell(messages.only_requester_confirms(request))
                return
            if action_id == messages.CANCEL_ACTION:
                await self._decide(request, RequestState.CANCELLED, user, "cancelled", tell)
                return
            if request.state is not RequestState.AWAITING_CONFIRMATION:
                await tell(messages.requester_cannot_approve(request))
                return
            await self._decide(request, RequestState.RUNNING, user, "confirmed", tell)
            return

        # Approve / reject: approvers only, and never the requester.
        if Role.APPROVER not in roles:
            await self.audit.append("refused", actor=user, request=request, outcome="not an approver")
            await tell(messages.not_an_approver(request))
            return
        if user == request.requested_by:
            if action_id == messages.REJECT_ACTION:
                await self._decide(request, RequestState.CANCELLED, user, "cancelled", tell)
                return
            await self.audit.append("refused", actor=user, request=request, outcome="requester cannot approve")
            await tell(messages.requester_cannot_approve(request))
            return
        if request.state is not RequestState.AWAITING_APPROVAL:
            await tell(messages.only_requester_confirms(request))
            return
        if action_id == messages.REJECT_ACTION:
            await self._decide(request, RequestState.REJECTED, user, "rejected", tell)
            return
        await self._decide(request, RequestState.RUNNING, user, "approved", tell)

    async def _decide(self, request: ChangeRequest, to: RequestState, user: str, event: str, tell: Any) -> None:
        now = time.time()

        def decided(r: ChangeRequest) -> None:
            r.decided_by, r.decided_at = user, now

        moved, current = await self.store.transition(request.id, to, PENDING, decided)
        if not moved or current is None:
            await tell(messages.already_handled(current or request))
            return
        if to is RequestState.RUNNING:
            # Started before anything else can fail: a running request always has its executor.
            self.deps.tasks.spawn(self.execute(current), name=f"change-{current.id[:8]}")
        try:
            await self.audit.append(event, actor=user, request=current)
        except ProfbotError as exc:
            log.error("audit_unwritten", request=current.id, audit_event=event, error=str(exc))
        await self._show(current)

    async def expire(self, request_id: str) -> None:
        moved, current = await self.store.transition(request_id, RequestState.EXPIRED, PENDING)
        if moved and current is not None:
            await self.audit.append("expired", actor=None, request=current, outcome="nobody decided in time")
            await self._show(current)

    async def sweep(self, stop: asyncio.Event) -> None:
        """Expire requests nobody decided in time (any replica may; the state change happens once)."""
        while not stop.is_set():
            try:
                for request_id in await self.store.due_for_expiry():
                    await self.expire(request_id)
            except Exception as exc:
                log.warning("expiry_sweep_failed", error=str(exc)[:300])
            await sleep_or_stop(stop, SWEEP_SECONDS)

    # ------------------------------------------------------------------ executing

    async def execute(self, request: ChangeRequest) -> None:
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
        if not await self.store.take_execution_slot(request, self.policy.changes_per_hour):
            count = await self.store.executions_in_last_hour(request)
            text = messages.cooldown_refused(
                request.label, request.target, request.host, count, self.policy.changes_per_hour
            )
            await self._finish(request.id, RequestState.FAILED, text)
            return
        await self.audit.append("executing", actor=request.decided_by, request=request)
        for index, step in enumerate(request.steps):
            operation = CATALOG.parse(step.op, step.params)
            try:
                result = await self.deps.bus.call(
                    request.host, operation, timeout=max(self.deps.job_timeout, CHANGE_STEP_TIMEOUT),
                    requested_by=request.decided_by, approval_id=request.id,
                )  # fmt: skip
            except ProfbotError as exc:
                outcome = StepOutcome(index=index, ok=False, error=str(exc)[:1500])
                await self._record(request.id, outcome)
                # Lost contact (Redis, no answer) after the job went out: it may have run.
                lost = isinstance(exc, OutcomeUnknown | JobTimeout | RedisUnavailable)
                state = RequestState.UNKNOWN if lost else RequestState.FAILED
                await self._finish(request.id, state, f"step {index + 1} ({step.op}): {exc}")
                return
            lines = result.steps if isinstance(result, ChangeResult) else [result.model_dump_json()[:300]]
            current = await self._record(request.id, StepOutcome(index=index, ok=True, lines=lines))
            if current is not None:
                await self._show(current)
        finished = await self._finish(request.id, RequestState.SUCCEEDED, None)
        if finished is not None:
            await self._verify(finished)

    async def _record(self, request_id: str, outcome: StepOutcome) -> ChangeRequest | None:
        return await self.store.update(request_id, lambda r: r.outcomes.append(outcome))

    async def _finish(self, request_id: str, state: RequestState, error: str | None) -> ChangeRequest | None:
        def done(r: ChangeRequest) -> None:
            r.finished_at, r.error = time.time(), error

        moved, current = await self.store.transition(request_id, state, {RequestState.RUNNING}, done)
        if not moved or current is None:
            return None
        outcome = error or "; ".join(line for o in current.outcomes for line in o.lines)
        await self.audit.append(state.value, actor=current.decided_by, request=current, outcome=outcome)
        await self._show(current)
        return current

    async def _verify(self, request: ChangeRequest) -> None:
        remedy = Remediation(
            procedure=request.procedure, action=request.action, label=request.label, kind=request.kind,
            target=request.target, host=request.host, impact=request.impact, params=request.params,
        )  # fmt: skip
        plan = self.deps.runbook.plan_for(remedy)
        ctx = ProcedureContext(self.deps.bus, request.host, self.deps.job_timeout)
        try:
            finding = await plan.verify(ctx, self.policy.verify_seconds)
        except ProfbotError as exc:
            finding = Finding(check="verification", severity=Severity.WARNING, detail=f"could not run: {exc}")
        text = f"{messages.ICON[finding.severity]} {finding.check}: {finding.detail}"
        current = await self.store.update(request.id, lambda r: setattr(r, "verification", text))
        await self.audit.append(
            "verified", actor=None, request=request, outcome=f"{finding.severity}: {finding.detail}"
        )
        if current is not None:
            await self._show(current)
        try:
            await self.deps.client.chat_postMessage(
                channel=request.channel,
                thread_ts=request.thread_ts or request.message_ts,
                **messages.verification_message(request, finding).as_kwargs(),
            )
        except SlackApiError as exc:
            log.warning("verification_post_failed", error=exc.response.get("error"))

    # ------------------------------------------------------------------ Slack

    async def _post(self, request: ChangeRequest) -> str | None:
        try:
            answer = await self.deps.client.chat_postMessage(
                channel=request.channel,
                thread_ts=request.thread_ts,
                **messages.change_request_message(request).as_kwargs(),
            )
        except SlackApiError as exc:
            log.warning("request_post_failed", request=request.id, error=exc.response.get("error"))
            return None
        return str(answer.get("ts") or "") or None

    async def _show(self, request: ChangeRequest) -> None:
        """Update the request's message in place, as stored now; its buttons go once it is decided.
        Read again rather than trust the caller's copy: the executor may have moved on meanwhile."""
        latest = await self.store.get(request.id) or request
        if not latest.message_ts:
            return
        try:
            await self.deps.client.chat_update(
                channel=latest.channel, ts=latest.message_ts, **messages.change_request_message(latest).as_kwargs()
            )
        except SlackApiError as exc:
            log.warning("request_update_failed", request=latest.id, error=exc.response.get("error"))


# ---------------------------------------------------------------------------- commands


async def restart_command(inv: Invocation) -> None:
    """`/prof restart SERVICE`: the runbook's restart remediation, as a request to confirm."""
    service = inv.args[0] if inv.args else ""
    if not service:
        await inv.ack(text=messages.needs_service("restart", "restart SERVICE"))
        return
    if not re.match(NAME_PATTERN, service) or len(service) > 128:
        await inv.ack(text=messages.not_a_host(service).replace("host name", "service name"))
        return
    await inv.ack(text=f":mag: Looking up `{service}` to prepare its restart.")

    async def prepare() -> None:
        async with answering_errors(inv):
            hosts = await inv.deps.bus.hosts_for(service)
            if not hosts:
                await post_in_channel(inv, messages.no_host_for(service))
                return
            # Pyroscope's own restart is INC-PROF-001's; a profiled service's is INC-PROF-003's.
            procedure = pyroscope_unavailable.ID if service == "pyroscope" else missing_profiles.ID
            remedy = Remediation(
                procedure=procedure, action="restart", label=f"Restart {service}", kind=OpKind.CHANGE,
                target=service, host=hosts[0], impact="",  # the request states the plan's impact
            )  # fmt: skip
            await ChangeFlow(inv.deps).request(remedy, inv.user_id, Where(inv.channel_id, None), inv.respond, None)

    inv.deps.tasks.spawn(prepare(), name=f"restart-{service}")


AUDIT_DEFAULT, AUDIT_MAX = 10, 50


async def audit_command(inv: Invocation) -> None:
    """`/prof audit [N]`: the latest N audit events, to the asker only."""
    given = inv.args[0] if inv.args else str(AUDIT_DEFAULT)
    if not given.isdigit() or not 1 <= int(given) <= AUDIT_MAX:
        await inv.ack(text=f":x: `{given[:20]}` is not a count: give a number from 1 to {AUDIT_MAX}.")
        return
    await inv.ack()

    async def answer() -> None:
        async with answering_errors(inv):
            events = await inv.deps.audit.latest(int(given))
            await inv.respond(response_type="ephemeral", **messages.audit_message(events).as_kwargs())

    inv.deps.tasks.spawn(answer(), name="audit")
