"""Alert groups become threads.

Each alert group (Alertmanager's ``groupKey``) gets one thread in the alert channel, brought up to
date from the ledger, not from the webhook: many notifications for one group coalesce into one
update. The first message shows the group and its state and is edited in place (last seen, count,
resolved and how long it lasted); alerts joining a firing group, firing again, and the resolution
are replies. A group that maps to a runbook procedure (handlers/alert_routing.py) gets that
procedure's diagnosis (reads only, never a change) in its thread, at most once per cooldown.

Delivery: a message the front end will never take (refused content, a thread gone) is logged and
skipped, the ledger keeps the alert; anything else raises, so the notification is tried again.
The loop that feeds :meth:`AlertThreads.sync` (a Redis consumer group, one replica per group at a
time) is bot/stores/alert_inbox.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable

import structlog

from bot.usecases.alert_model import AlertGroup, AlertNotification
from bot.usecases.commands import Place, usage
from bot.usecases.content import AlertFiringAgain, AlertNeedsTarget, AlertResolved, AlertsJoined, AlertThread, Content
from bot.usecases.diagnose import Diagnoses
from bot.usecases.ports import AlertLedger, Clock, MessageRef, People
from bot.usecases.settings import AlertPolicy
from handlers.alert_routing import procedure_for, target_for
from handlers.findings import Report
from handlers.registry import Procedure, Runbook
from profbot.aio import BackgroundTasks
from profbot.errors import ContentRefused, MessageGone
from profbot.settings import NAME_PATTERN

log = structlog.get_logger("profbot.alerts")

# What no retry will ever deliver: logged and skipped, the ledger keeps the alert.
UNDELIVERABLE = (ContentRefused, MessageGone)


class AlertThreads:
    def __init__(
        self,
        *,
        ledger: AlertLedger,
        people: People,
        diagnoses: Diagnoses,
        book: Runbook,
        policy: AlertPolicy,
        tasks: BackgroundTasks,
        clock: Clock = time.time,
    ) -> None:
        self.ledger = ledger
        self.people = people
        self.diagnoses = diagnoses.speaking_through(people)
        self.book = book
        self.policy = policy
        self.tasks = tasks
        self.clock = clock

    async def receive(self, notification: AlertNotification) -> str:
        """Keep a notification; its group's id. Slack comes later (:meth:`sync`)."""
        return await self.ledger.record(notification)

    def procedure(self, group: AlertGroup) -> Procedure | None:
        labels, annotations = group.merged_labels()
        found = procedure_for(labels, annotations, self.policy.procedures)
        procedure = self.book.get(found) if found else None
        return procedure if procedure is not None and procedure.alias is not None else None

    async def sync(self, gid: str) -> AlertGroup | None:
        """Bring group ``gid``'s thread up to date with the ledger."""
        group = await self.ledger.group(gid)
        if group is None:
            return None
        procedure = self.procedure(group)
        parent = AlertThread(group, procedure.id if procedure else None)
        if group.thread_ts is None:
            return await self._open_thread(group, procedure, parent)

        message = MessageRef(channel=group.channel or self.policy.channel, ts=group.thread_ts)
        now = self.clock()
        refiring = group.status == "firing" and group.resolved_posted
        resolving = group.status == "resolved" and not group.resolved_posted
        if resolving:
            group = group.model_copy(update={"resolved_at": group.resolved_at or now})
        if refiring:
            group = group.model_copy(update={"resolved_at": None})
        await self._deliver(self.people.update(message, AlertThread(group, parent.procedure)), "update")
        announced = await self.ledger.announced(gid)
        joined = [fp for fp, alert in group.alerts.items() if alert.status == "firing" and fp not in announced]
        if refiring:
            await self._reply(message, AlertFiringAgain(group))
            await self.ledger.clear_resolved(gid)
        if joined:
            await self._reply(message, AlertsJoined([group.alerts[fp] for fp in joined]))
            await self.ledger.announce(gid, joined)
        if resolving:
            await self._reply(message, AlertResolved(group))
            await self.ledger.set_resolved(gid, group.resolved_at or now)
        if refiring:
            await self._diagnose(group, message, procedure)
        return group

    async def _open_thread(self, group: AlertGroup, procedure: Procedure | None, parent: AlertThread) -> AlertGroup:
        try:
            message = await self.people.post(Place(channel=self.policy.channel), parent)
        except UNDELIVERABLE as exc:
            log.error("alert_post_refused", group=group.id, error=exc.reason)
            return group
        await self.ledger.set_thread(group.id, message.channel, message.ts)
        await self.ledger.announce(group.id, list(group.alerts))
        group = group.model_copy(update={"thread_ts": message.ts, "channel": message.channel})
        if group.status == "resolved":
            await self.ledger.set_resolved(group.id, self.clock())
        else:
            await self._diagnose(group, message, procedure)
        log.info("alert_thread_created", group=group.id, alertname=group.alertname, ts=message.ts)
        return group

    async def _diagnose(self, group: AlertGroup, thread: MessageRef, procedure: Procedure | None) -> None:
        if procedure is None or not await self.ledger.claim_diagnosis(group.id, self.policy.diagnosis_cooldown):
            return
        target = target_for(group.merged_labels()[0]) if procedure.needs_argument else procedure.default_argument
        if target is not None and not re.match(NAME_PATTERN, target):
            target = None  # not a container name: never passed on
        if target is None:
            await self._reply(thread, AlertNeedsTarget(procedure.id, usage(procedure)))
            return
        self.tasks.spawn(self._run_diagnosis(group, thread, procedure, target), name=f"alert-diagnosis-{group.id[:8]}")

    async def _run_diagnosis(self, group: AlertGroup, thread: MessageRef, procedure: Procedure, target: str) -> None:
        try:
            outcome = await self.diagnoses.run(procedure, procedure.params_for(target))
            if isinstance(outcome, Report):
                log.info("alert_diagnosed", group=group.id, procedure=procedure.id, verdict=outcome.verdict.value)
                await self.diagnoses.publish(outcome, thread=thread)
            else:
                await self._reply(thread, outcome)
        except Exception:
            log.exception("alert_diagnosis_failed", group=group.id, procedure=procedure.id)

    async def _reply(self, thread: MessageRef, content: Content) -> None:
        await self._deliver(self.people.reply(thread, content), "reply")

    async def _deliver(self, call: Awaitable[object], what: str) -> None:
        try:
            await call
        except UNDELIVERABLE as exc:
            log.error("alert_post_refused", what=what, error=exc.reason)
