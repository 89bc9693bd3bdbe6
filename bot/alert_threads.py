"""Alert groups become Slack threads: the poster behind the alert intake.

It reads the ledger's inbox stream through a consumer group (any number of bot replicas share the
work) and brings each group's thread up to date from the ledger, not from the webhook: so many
webhooks for one group coalesce into one update, and a thread is created once per group (a
per-group lock in Redis). An entry is acknowledged only after Slack took every message for it; when
Slack is down the poster waits, then carries on from the oldest unacknowledged entry, in order.

Per group: the parent message shows the group and its state and is edited in place (last seen,
count, resolved and how long it lasted); alerts joining a firing group and the resolution are
replies; a group mapped to a runbook procedure gets that procedure's diagnosis (reads only) in its
thread, at most once per cooldown.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import diagnoses, messages
from bot.alert_ledger import AlertGroup, AlertLedger
from bot.context import BotDeps
from bot.stream_consumer import Entries, GroupConsumer
from handlers.alert_routing import procedure_for, target_for
from profbot.settings import NAME_PATTERN

log = structlog.get_logger("profbot.alerts")

# Slack errors no retry can fix: logged and skipped (the ledger keeps the alert).
PERMANENT_ERRORS = {"invalid_blocks", "msg_too_long", "message_not_found", "cant_update_message"}

POSTER_GROUP = "slack-posters"
LOCK_MS = 600_000  # longer than any group's sync, pacer waits and Slack retries included
# Delete the lock only if it is still ours (it may have expired and been taken).
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class ChannelPacer:
    """At most ``rate`` Slack writes per second per channel (Slack allows about one message per
    second per channel); callers wait their turn instead of collecting 429s."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def wait(self, channel: str) -> None:
        async with self._lock:
            now = time.monotonic()
            at = max(now, self._next.get(channel, now))
            self._next[channel] = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


@dataclass(frozen=True)
class AlertSettings:
    channel: str
    procedures: dict[str, str]
    diagnosis_cooldown: float


class AlertPoster:
    def __init__(self, deps: BotDeps, ledger: AlertLedger, settings: AlertSettings, pacer: ChannelPacer) -> None:
        self.deps = deps
        self.ledger = ledger
        self.settings = settings
        self.pacer = pacer
        self.client: AsyncWebClient = deps.client
        self.inbox = GroupConsumer(ledger.redis, ledger.inbox, POSTER_GROUP, start_id="0", count=500)

    # ------------------------------------------------------------------ the loop

    async def run(self, stop: asyncio.Event) -> None:
        await self.inbox.serve(stop, self._process, "alert_post")

    async def _process(self, entries: Entries) -> None:
        order: list[str] = []
        ids: dict[str, list[str]] = {}
        for entry_id, fields in entries:
            gid = str(fields["group"])
            if gid not in ids:
                order.append(gid)
                ids[gid] = []
            ids[gid].append(entry_id)
        for gid in order:
            async with self._group_lock(gid) as held:
                if not held:
                    continue  # another replica is on it; our entries stay pending and come back
                await self.sync(gid)
            await self.inbox.ack(*ids[gid])

    @contextlib.asynccontextmanager
    async def _group_lock(self, gid: str) -> AsyncIterator[bool]:
        key = f"{self.ledger.group_key(gid)}:lock"
        token = uuid.uuid4().hex
        deadline = time.monotonic() + 5
        held = False
        while not held and time.monotonic() < deadline:
            held = bool(await self.ledger.redis.set(key, token, nx=True, px=LOCK_MS))
            if not held:
                await asyncio.sleep(0.05)
        try:
            yield held
        finally:
            if held:
                await self.ledger.redis.eval(_RELEASE, 1, key, token)

    # ------------------------------------------------------------------ one group

    async def sync(self, gid: str) -> None:
        group = await self.ledger.group(gid)
        if group is None:
            return
        procedure = self._procedure(group)
        if group.thread_ts is None:
            answer = await self._write("chat_postMessage", channel=self.settings.channel,
                                       **messages.alert_parent_message(group, procedure).as_kwargs())  # fmt: skip
            ts = str(answer["ts"])
            await self.ledger.set_fields(gid, thread_ts=ts, channel=self.settings.channel)
            await self.ledger.announce(gid, list(group.alerts))
            if group.status == "resolved":
                await self.ledger.set_fields(gid, resolved_at=time.time(), resolved_posted=1)
            else:
                group = group.model_copy(update={"thread_ts": ts, "channel": self.settings.channel})
                await self._diagnose(group, procedure)
            log.info("alert_thread_created", group=gid, alertname=group.alertname, ts=ts)
            return

        channel = group.channel or self.settings.channel
        now = time.time()
        refiring = group.status == "firing" and group.resolved_posted
        resolving = group.status == "resolved" and not group.resolved_posted
        if resolving:
            group = group.model_copy(update={"resolved_at": group.resolved_at or now})
        if refiring:
            group = group.model_copy(update={"resolved_at": None})
        await self._write("chat_update", channel=channel, ts=group.thread_ts,
                          **messages.alert_parent_message(group, procedure).as_kwargs())  # fmt: skip
        announced = await self.ledger.announced(gid)
        joined = [fp for fp, alert in group.alerts.items() if alert.status == "firing" and fp not in announced]
        if refiring:
            await self._reply(group, messages.alert_refiring_message(group))
            await self.ledger.clear_fields(gid, "resolved_posted", "resolved_at")
        if joined:
            await self._reply(group, messages.alerts_joined_message([group.alerts[fp] for fp in joined]))
            await self.ledger.announce(gid, joined)
        if resolving:
            await self._reply(group, messages.alert_resolved_message(group))
            await self.ledger.set_fields(gid, resolved_at=group.resolved_at, resolved_posted=1)
        if refiring:
            await self._diagnose(group, procedure)

    def _procedure(self, group: AlertGroup) -> str | None:
        labels, annotations = group.merged_labels()
        procedure = procedure_for(labels, annotations, self.settings.procedures)
        return procedure if procedure and diagnoses.find(procedure) else None

    async def _diagnose(self, group: AlertGroup, procedure: str | None) -> None:
        if procedure is None or not await self.ledger.claim_diagnosis(group.id, self.settings.diagnosis_cooldown):
            return
        spec = diagnoses.find(procedure)
        assert spec is not None
        target = target_for(group.merged_labels()[0]) if spec.needs_service else spec.service_default
        if target is not None and not re.match(NAME_PATTERN, target):
            target = None  # not a container name: never passed on
        if target is None:
            await self._reply(group, messages.alert_needs_target(procedure, spec.usage))
            return
        self.deps.tasks.spawn(self._run_diagnosis(group, spec, target), name=f"alert-diagnosis-{group.id[:8]}")

    async def _run_diagnosis(self, group: AlertGroup, spec: diagnoses.DiagnosisSpec, target: str) -> None:
        try:
            outcome = await diagnoses.run_procedure(self.deps, spec, target)
            message = outcome if isinstance(outcome, messages.Message) else messages.report_message(outcome, None)
            await self._reply(group, message)
            if not isinstance(outcome, messages.Message):
                log.info("alert_diagnosed", group=group.id, procedure=spec.procedure, verdict=outcome.verdict.value)
                for item in outcome.evidence:
                    await self._reply(group, messages.evidence_message(item))
        except Exception:
            log.exception("alert_diagnosis_failed", group=group.id, procedure=spec.procedure)

    # ------------------------------------------------------------------ Slack

    async def _reply(self, group: AlertGroup, message: messages.Message) -> None:
        await self._write("chat_postMessage", channel=group.channel or self.settings.channel,
                          thread_ts=group.thread_ts, **message.as_kwargs())  # fmt: skip

    async def _write(self, method: str, **kwargs: Any) -> Any:
        """One paced Slack write. Errors that no retry fixes are logged and skipped (the ledger
        keeps the alert); others raise, and the inbox entry is retried."""
        await self.pacer.wait(str(kwargs.get("channel")))
        try:
            return await getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in PERMANENT_ERRORS:
                log.error("alert_post_refused", method=method, error=error)
                return {"ts": kwargs.get("ts") or ""}
            raise
