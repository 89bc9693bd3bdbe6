"""Alert groups become threads.

Each incident of an alert group (Alertmanager's ``groupKey``) gets one thread in the alert channel,
brought up to date from the ledger, not from the webhook: many notifications for one group coalesce
into one update. The first message shows the group and its state and is edited in place (last seen,
count, resolved and how long it lasted); alerts joining a firing group and the resolution are
replies. A group firing after its resolution is a new incident: a new thread whose first message
links the previous one, and a note in the previous thread. A group that maps to a runbook procedure
(handlers/alert_routing.py) gets that procedure's diagnosis (reads only, never a change) in its
thread, at most once per cooldown per incident.

A thread's first message is posted once: it carries an idempotency key (the group and incident), the
ledger notes the key before posting, and while a noted key has no stored ts (Redis failed after the
post, or the post's answer was lost) the front end is asked for a message with that key first.

Delivery: a message the front end will never take (refused content, a thread gone) is logged and
skipped, the ledger keeps the alert. A channel that refuses the bot (not in it, gone, archived) is
no reason to try again at once: the group is parked, its state kept in the ledger, the refusal
logged once and counted (bot/usecases/refusals.py); the channel is tried again with the next
notification (:meth:`AlertThreads.wake`) or after a wait of 1 to 15 minutes, and once it takes a
post every parked group's thread is brought up to date (:meth:`AlertThreads.parked_due`). Anything
else raises, so the notification is tried again. The loop that feeds :meth:`AlertThreads.sync` (a
Redis consumer group, one replica per group at a time) is bot/stores/alert_inbox.py.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable

import structlog

from bot.usecases.alert_model import AlertGroup, AlertNotification
from bot.usecases.commands import Place, usage
from bot.usecases.content import AlertFiringAgain, AlertNeedsTarget, AlertResolved, AlertsJoined, AlertThread, Content
from bot.usecases.diagnose import Diagnoses
from bot.usecases.ports import AlertLedger, AlertPeople, Clock, MessageRef
from bot.usecases.refusals import ChannelRefusals
from bot.usecases.settings import AlertPolicy
from bot.usecases.silences import AlertActions
from handlers.alert_routing import procedure_for, target_for
from handlers.findings import Report
from handlers.registry import Procedure, Runbook
from profbot.aio import BackgroundTasks
from profbot.errors import ContentRefused, MessageGone, PlaceUnavailable
from profbot.settings import NAME_PATTERN

log = structlog.get_logger("profbot.alerts")

# What no retry will ever deliver: logged and skipped, the ledger keeps the alert.
UNDELIVERABLE = (ContentRefused, MessageGone)
# Slack's clock and ours may differ: a parent is looked for this much either side of its post.
POSTING_CLOCK_MARGIN = 120.0
# A parent's post is given up after this long (pacing and the front end's retries included), so a
# post begun at T took its ts before T + POST_SECONDS: the look-up window is bounded on both sides.
POST_SECONDS = 60.0
# The look-up is given up after this long (the front end's rate-limit waits included) and tried
# again later. The lock a group's sync holds is renewed for as long as it runs (bot/stores/alert_inbox.py):
# no other replica takes the group over mid-post and posts it twice.
LOOKUP_SECONDS = 200.0


class AlertThreads:
    def __init__(
        self,
        *,
        ledger: AlertLedger,
        people: AlertPeople,
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
        self.refusals = ChannelRefusals("alert", clock)
        self._parked_maybe = True  # what an earlier process parked is looked for once
        # What people did from the threads (silences, who is on it), drawn on each parent; set by Profbot.
        self.actions: AlertActions | None = None

    async def _parent(self, group: AlertGroup, procedure: str | None) -> AlertThread:
        return (
            await self.actions.thread(group, procedure) if self.actions is not None else AlertThread(group, procedure)
        )

    async def receive(self, notification: AlertNotification) -> str:
        """Keep a notification; its group's id. Slack comes later (:meth:`sync`)."""
        return await self.ledger.record(notification)

    def procedure(self, group: AlertGroup) -> Procedure | None:
        labels, annotations = group.merged_labels()
        found = procedure_for(labels, annotations, self.policy.procedures)
        procedure = self.book.get(found) if found else None
        return procedure if procedure is not None and procedure.alias is not None else None

    async def sync(self, gid: str) -> AlertGroup | None:
        """Bring group ``gid``'s thread up to date with the ledger; where its channel refuses the
        bot (or waits after refusing it) park the group instead."""
        group = await self.ledger.group(gid)
        if group is None:  # gone with its retention: nothing to post, nothing to keep parked
            await self.ledger.unpark(gid)
            return None
        channel = group.channel or self.policy.channel
        if self.refusals.wait(channel) > 0:
            await self._park(group.id)
            return group
        try:
            synced = await self._bring_up_to_date(group)
        except PlaceUnavailable as exc:
            self.refusals.refused(channel, exc.reason)
            await self._park(group.id)
            return group
        self.refusals.accepted(channel)
        await self.ledger.unpark(gid)
        return synced

    def wake(self) -> None:
        """New notifications came in: the alert channel may be tried at once, even if it refused
        the bot lately (so a thread appears as soon as the bot is invited and the group notifies)."""
        self.refusals.wake(self.policy.channel)

    async def parked_due(self) -> list[str]:
        """The groups parked because their channel refused the bot, once it may be tried again: it
        took a post since, or its wait is over. None while it waits."""
        if not self._parked_maybe or self.refusals.wait(self.policy.channel) > 0:
            return []
        parked = await self.ledger.parked()
        self._parked_maybe = bool(parked)
        return parked

    async def _park(self, gid: str) -> None:
        await self.ledger.park(gid)
        self._parked_maybe = True

    async def _bring_up_to_date(self, group: AlertGroup) -> AlertGroup:
        gid = group.id
        procedure = self.procedure(group)
        if group.status == "firing" and group.resolved_posted:
            group = await self._open_incident(group)
        parent = await self._parent(group, procedure.id if procedure else None)
        if group.thread_ts is None:
            return await self._open_thread(group, procedure, parent)

        message = MessageRef(channel=group.channel or self.policy.channel, ts=group.thread_ts)
        resolving = group.status == "resolved" and not group.resolved_posted
        if resolving:
            group = group.model_copy(update={"resolved_at": group.resolved_at or self.clock()})
        await self._deliver(self.people.update(message, await self._parent(group, parent.procedure)), "update")
        announced = await self.ledger.announced(gid)
        joined = [fp for fp, alert in group.alerts.items() if alert.status == "firing" and fp not in announced]
        if joined:
            await self._reply(message, AlertsJoined(group, [group.alerts[fp] for fp in joined]))
            await self.ledger.announce(gid, joined)
        if resolving:
            await self._reply(message, AlertResolved(group))
            await self.ledger.set_resolved(gid, group.resolved_at or self.clock())
        return group

    async def _open_incident(self, group: AlertGroup) -> AlertGroup:
        """The group fired again after its resolution: a new incident, its thread still to open."""
        previous_link = None
        if group.thread_ts is not None:
            previous = MessageRef(channel=group.channel or self.policy.channel, ts=group.thread_ts)
            try:
                previous_link = await self.people.link(previous)
            except (*UNDELIVERABLE, PlaceUnavailable) as exc:  # the old thread is gone: no link to it
                log.warning("alert_previous_thread_unlinked", group=group.id, error=exc.reason)
        await self.ledger.open_incident(group, previous_link)
        log.info("alert_incident_opened", group=group.id, incident=group.incident + 1)
        return await self.ledger.group(group.id) or group

    async def _open_thread(self, group: AlertGroup, procedure: Procedure | None, parent: AlertThread) -> AlertGroup:
        early = self._diagnosis_begun(group, procedure)
        try:
            return await self._post_thread(group, procedure, parent, early)
        finally:
            if early is not None and not early.claimed:
                early.drop()  # not posted, or not this replica's to post: its reads are dropped

    async def _post_thread(
        self, group: AlertGroup, procedure: Procedure | None, parent: AlertThread, early: EarlyDiagnosis | None
    ) -> AlertGroup:
        place, key = Place(channel=self.policy.channel), group.parent_key
        message = None
        if group.posting_key == key and group.posting_since is not None:
            # Posted before without its ts stored, perhaps: look around that post before posting again.
            begun = group.posting_since
            async with asyncio.timeout(LOOKUP_SECONDS):
                message = await self.people.find_keyed(
                    place, key, begun - POSTING_CLOCK_MARGIN, begun + POST_SECONDS + POSTING_CLOCK_MARGIN
                )
            if message is not None:
                log.info("alert_parent_found", group=group.id, key=key, ts=message.ts)
        if message is None:
            # Noted anew before every post, so the next look-up covers this post and no older ones.
            await self.ledger.begin_parent(group.id, key, self.clock())
            try:
                async with asyncio.timeout(POST_SECONDS):
                    message = await self.people.post_keyed(place, parent, key)
            except UNDELIVERABLE as exc:
                log.error("alert_post_refused", group=group.id, error=exc.reason)
                return group
            except PlaceUnavailable:  # refused outright, so not posted: nothing to look for next time
                await self.ledger.forget_parent(group.id, key)
                raise
        await self.ledger.set_thread(group.id, message.channel, message.ts)
        await self.ledger.announce(group.id, list(group.alerts))
        group = group.model_copy(update={"thread_ts": message.ts, "channel": message.channel})
        if group.status == "resolved":
            await self.ledger.set_resolved(group.id, self.clock())
        else:
            await self._diagnose(group, message, procedure, early)
        if group.previous_thread_ts is not None:  # those who follow the previous thread hear of this one
            previous = MessageRef(channel=group.previous_channel or message.channel, ts=group.previous_thread_ts)
            await self._reply(previous, AlertFiringAgain(group))
        log.info("alert_thread_created", group=group.id, incident=group.incident, alertname=group.alertname,
                 ts=message.ts)  # fmt: skip
        return group

    def _diagnosis_begun(self, group: AlertGroup, procedure: Procedure | None) -> EarlyDiagnosis | None:
        """A firing group's diagnosis, begun as soon as its alert is stored, beside its parent's
        post: the report then waits for the thread's ts, not the thread for the reads. Reads only,
        so a run whose claim fails (another replica's, the cooldown's) is simply dropped."""
        if procedure is None or group.status == "resolved":
            return None
        target = diagnosis_target(group, procedure)
        if target is None:
            return None
        # A target its procedure refuses fails inside the run, not at the cost of the parent: the
        # claimed run says what went wrong (alert_diagnosis_failed).
        return EarlyDiagnosis(asyncio.ensure_future(self._diagnosis(procedure, target)))

    async def _diagnose(
        self, group: AlertGroup, thread: MessageRef, procedure: Procedure | None, early: EarlyDiagnosis | None
    ) -> None:
        """Post the diagnosis begun with the alert (``early``), if this replica claims it; a firing
        group with a procedure has none only when it names no target."""
        if procedure is None or not await self.ledger.claim_diagnosis(
            group.id, group.incident, self.policy.diagnosis_cooldown
        ):
            return
        if early is None:
            await self._reply(thread, AlertNeedsTarget(procedure.id, usage(procedure)))
            return
        early.claimed = True
        self.tasks.spawn(
            self._run_diagnosis(group, thread, procedure, early.run), name=f"alert-diagnosis-{group.id[:8]}"
        )

    async def _diagnosis(self, procedure: Procedure, target: str) -> Report | Content:
        return await self.diagnoses.run(procedure, procedure.params_for(target))

    async def _run_diagnosis(
        self, group: AlertGroup, thread: MessageRef, procedure: Procedure, run: Awaitable[Report | Content]
    ) -> None:
        try:
            outcome = await run
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


class EarlyDiagnosis:
    """A diagnosis begun before its thread exists; ``claimed`` once it is this replica's to post."""

    def __init__(self, run: asyncio.Future[Report | Content]) -> None:
        self.run = run
        self.claimed = False

    def drop(self) -> None:
        self.run.cancel()
        if self.run.done() and not self.run.cancelled():
            self.run.exception()  # finished already: what it raised is of no interest now


def diagnosis_target(group: AlertGroup, procedure: Procedure) -> str | None:
    """What the procedure runs on for this group (its container), or None: none named, or not a
    container name (never passed on)."""
    target = target_for(group.merged_labels()[0]) if procedure.needs_argument else procedure.default_argument
    return target if target is not None and re.match(NAME_PATTERN, target) else None
