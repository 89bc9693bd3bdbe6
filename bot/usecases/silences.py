"""Acting on an alert from its thread: silence the group in Alertmanager (1, 4 or 24 hours),
extend or expire that silence, and say who is on it ("I'm on it", "Release").

A silence's matchers are the group's labels (its group labels; the labels all its alerts share
when it is grouped by none), each an equality matcher: the silence covers this group and nothing
wider. ``createdBy`` names the person (their name and id), the comment links the thread. The
parent then shows what Alertmanager says of the silence, read back each time it is drawn: a
silence edited or expired in Alertmanager's UI shows as it is there.

Operators only; every refusal, silence, extension and expiry is audited with the matchers. When
Alertmanager does not answer or refuses, the person is told why and the thread stays as it was; a
silence whose id cannot be kept (Redis failed) is expired again at once, so nothing is left half
done. An acknowledgement belongs to its incident: a group that resolves shows none, and one firing
again after its resolution is a new incident without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import structlog

from bot.usecases.access import AccessPolicy
from bot.usecases.alert_model import AlertGroup
from bot.usecases.audit import AuditRecords
from bot.usecases.commands import Asker, Role
from bot.usecases.content import AlertActionFailed, AlertThread, NotAllowed, SilenceShown
from bot.usecases.ports import AlertLedger, AlertMarksStore, AlertPeople, Clock, MessageRef, Silencer
from bot.usecases.silence_model import AlertMarks, Matcher, SilenceSpec, matchers_text
from bot.usecases.speech import tell
from profbot.audit import AuditEvent, AuditKind
from profbot.errors import DeliveryError, ProfbotError, SilencerError

log = structlog.get_logger("profbot.silences")

HOURS_OFFERED = (1, 4, 24)
EXTEND_HOURS = 1
MAX_HOURS = 7 * 24
# Drawing a parent waits this long for Alertmanager's answer, then shows the silence as unknown.
READ_SECONDS = 3.0
NOT_SET_UP = {
    "alertmanager": "silencing from the thread is not set up (PROFBOT_ALERTMANAGER_URL)",
    "grafana": "silencing a Grafana alert from the thread needs PROFBOT_GRAFANA_URL",
}


def silence_matchers(group: AlertGroup) -> list[Matcher]:
    labels = group.group_labels or group.common_labels
    return [Matcher(name=name, value=value) for name, value in sorted(labels.items())]


class AlertActions:
    def __init__(
        self,
        *,
        ledger: AlertLedger,
        marks: AlertMarksStore,
        people: AlertPeople,
        silencers: Mapping[str, Silencer],
        audit: AuditRecords,
        access: AccessPolicy,
        procedure: Callable[[AlertGroup], str | None],
        channel: str,
        clock: Clock = time.time,
    ) -> None:
        self.ledger, self.store, self.people = ledger, marks, people
        self.silencers, self.audit, self.access = silencers, audit, access
        self.procedure, self.channel, self.clock = procedure, channel, clock

    def silencing(self, group: AlertGroup) -> str | None:
        """Why this group's thread offers no silence; None when it does."""
        if group.source not in self.silencers:
            return NOT_SET_UP.get(group.source, NOT_SET_UP["alertmanager"])
        if not silence_matchers(group):
            return "this group has no labels to silence it by: a silence without matchers would silence everything"
        return None

    async def thread(self, group: AlertGroup, procedure: str | None) -> AlertThread:
        """The group's parent as it is now: with the silence Alertmanager holds, and who is on it."""
        marks = await self.marks_of(group)
        shown = None
        silencer = self.silencers.get(group.source)
        if marks.silence_id is not None and silencer is not None:
            try:
                async with asyncio.timeout(READ_SECONDS):
                    silence = await silencer.get(marks.silence_id)
            except (SilencerError, TimeoutError) as exc:
                log.warning("silence_unread", group=group.id, silence=marks.silence_id, error=str(exc))
                shown = SilenceShown(marks.silence_id, "unknown", None, marks.silenced_by)
            else:
                if silence is not None:
                    shown = SilenceShown(silence.id, silence.state, silence.endsAt.timestamp(), marks.silenced_by)
        firing = group.status == "firing"
        return AlertThread(
            group, procedure, silence=shown, silencing=self.silencing(group),
            acked_by=marks.acked_by if firing else None, acked_at=marks.acked_at if firing else None,
        )  # fmt: skip

    async def marks_of(self, group: AlertGroup) -> AlertMarks:
        """This incident's marks: an earlier incident's are not this one's."""
        marks = await self.store.marks(group.id)
        return marks if marks is not None and marks.incident == group.incident else AlertMarks(incident=group.incident)

    # ------------------------------------------------------------------ what a click does

    async def silence(self, asker: Asker, gid: str, hours: float) -> None:
        what = "silence this alert group"
        group = await self._allowed(asker, gid, what)
        if group is None:
            return
        silencer, matchers = self.silencers.get(group.source), silence_matchers(group)
        why_not = self.silencing(group)
        if silencer is None or why_not is not None:
            await tell(self.people, asker, AlertActionFailed(what, why_not or "not set up"))
            return
        if not 0 < hours <= MAX_HOURS:
            await tell(self.people, asker, AlertActionFailed(what, f"a silence lasts at most {MAX_HOURS // 24} days"))
            return
        now = datetime.fromtimestamp(self.clock(), UTC)
        spec = SilenceSpec(
            matchers=matchers, startsAt=now, endsAt=now + timedelta(hours=hours),
            createdBy=f"{asker.name} ({asker.user})" if asker.name else asker.user,
            comment=await self._comment(group),
        )  # fmt: skip
        try:
            silence_id = await silencer.create(spec)
        except SilencerError as exc:
            await tell(self.people, asker, AlertActionFailed(what, exc.reason))
            return
        marks = (await self.marks_of(group)).model_copy(update={"silence_id": silence_id, "silenced_by": asker.user})
        if not await self._keep(asker, group, marks, what, undo=silence_id):
            return
        await self._audit(AuditKind.SILENCED, asker, group, silence_id, f"{matchers_text(matchers)} for {hours:g} h")
        await self.redraw(group)

    async def extend(self, asker: Asker, gid: str, hours: float = EXTEND_HOURS) -> None:
        what = "extend the silence"
        group = await self._allowed(asker, gid, what)
        if group is None:
            return
        marks, silencer = await self.marks_of(group), self.silencers.get(group.source)
        if marks.silence_id is None or silencer is None:
            await tell(self.people, asker, AlertActionFailed(what, "this thread made no silence"))
            return
        try:
            current = await silencer.get(marks.silence_id)
            if current is None or not current.silencing:
                await tell(self.people, asker, AlertActionFailed(what, "the silence is over: silence the group again"))
                await self.redraw(group)
                return
            now = datetime.fromtimestamp(self.clock(), UTC)
            ends = max(now, current.endsAt) + timedelta(hours=hours)
            if ends - now > timedelta(hours=MAX_HOURS):
                await tell(
                    self.people, asker, AlertActionFailed(what, f"a silence lasts at most {MAX_HOURS // 24} days")
                )
                return
            spec = SilenceSpec(
                id=current.id, matchers=current.matchers, startsAt=current.startsAt, endsAt=ends,
                createdBy=current.createdBy, comment=current.comment,
            )  # fmt: skip
            # Alertmanager keeps the id when only the end moves, and gives a new one otherwise.
            silence_id = await silencer.create(spec)
        except SilencerError as exc:
            await tell(self.people, asker, AlertActionFailed(what, exc.reason))
            return
        if silence_id != marks.silence_id:
            moved = marks.model_copy(update={"silence_id": silence_id})
            if not await self._keep(asker, group, moved, what, undo=silence_id):
                return
        outcome = f"{matchers_text(current.matchers)} until {ends:%Y-%m-%d %H:%M} UTC"
        await self._audit(AuditKind.SILENCE_EXTENDED, asker, group, silence_id, outcome)
        await self.redraw(group)

    async def expire(self, asker: Asker, gid: str) -> None:
        what = "expire the silence"
        group = await self._allowed(asker, gid, what)
        if group is None:
            return
        marks, silencer = await self.marks_of(group), self.silencers.get(group.source)
        if marks.silence_id is None or silencer is None:
            await tell(self.people, asker, AlertActionFailed(what, "this thread made no silence"))
            return
        try:
            current = await silencer.get(marks.silence_id)
            if current is not None and current.silencing:  # one expired in Alertmanager's UI stays so
                await silencer.expire(current.id)
        except SilencerError as exc:
            await tell(self.people, asker, AlertActionFailed(what, exc.reason))
            return
        matchers = matchers_text(current.matchers) if current is not None else "(unknown to Alertmanager)"
        await self._audit(AuditKind.SILENCE_EXPIRED, asker, group, marks.silence_id, matchers)
        await self.redraw(group)

    async def acknowledge(self, asker: Asker, gid: str, on_it: bool = True) -> None:
        what = "take this alert on" if on_it else "release this alert"
        group = await self._allowed(asker, gid, what)
        if group is None:
            return
        if on_it and group.status != "firing":
            await tell(self.people, asker, AlertActionFailed(what, "the group has resolved"))
            return
        update = {"acked_by": asker.user, "acked_at": self.clock()} if on_it else {"acked_by": None, "acked_at": None}
        marks = (await self.marks_of(group)).model_copy(update=update)
        if not await self._keep(asker, group, marks, what):
            return
        await self._audit(AuditKind.ACKNOWLEDGED if on_it else AuditKind.RELEASED, asker, group, None, None)
        await self.redraw(group)

    async def redraw(self, group: AlertGroup) -> None:
        if group.thread_ts is None:
            return
        message = MessageRef(channel=group.channel or self.channel, ts=group.thread_ts)
        try:
            await self.people.update(message, await self.thread(group, self.procedure(group)))
        except DeliveryError as exc:
            log.error("alert_parent_unchanged", group=group.id, error=exc.reason)

    # ------------------------------------------------------------------ pieces

    async def _allowed(self, asker: Asker, gid: str, what: str) -> AlertGroup | None:
        if Role.OPERATOR not in asker.roles:
            await self.access.refused(asker, what)
            await tell(self.people, asker, NotAllowed(asker.user, what))
            return None
        group = await self.ledger.group(gid)
        if group is None or group.thread_ts is None:
            await tell(self.people, asker, AlertActionFailed(what, "profbot no longer keeps this alert group"))
            return None
        return group

    async def _keep(
        self, asker: Asker, group: AlertGroup, marks: AlertMarks, what: str, undo: str | None = None
    ) -> bool:
        try:
            await self.store.put(group.id, marks)
        except ProfbotError as exc:
            log.error("alert_marks_unwritten", group=group.id, error=str(exc))
            silencer = self.silencers.get(group.source)
            if undo is not None and silencer is not None:  # a silence the thread cannot show is taken back
                try:
                    await silencer.expire(undo)
                except SilencerError as undone:
                    log.error("silence_left_behind", group=group.id, silence=undo, error=undone.reason)
            await tell(
                self.people, asker, AlertActionFailed(what, f"profbot could not keep it ({exc}): nothing changed")
            )
            return False
        return True

    async def _comment(self, group: AlertGroup) -> str:
        place = f"channel {group.channel or self.channel}, thread {group.thread_ts}"
        if group.thread_ts is not None:
            thread = MessageRef(channel=group.channel or self.channel, ts=group.thread_ts)
            with contextlib.suppress(DeliveryError):  # else the thread's address, without a link
                place = await self.people.link(thread) or place
        return f"profbot: {group.alertname}, silenced from its alert thread {place}"

    async def _audit(
        self, kind: AuditKind, asker: Asker, group: AlertGroup, target: str | None, outcome: str | None
    ) -> None:
        await self.audit.record(AuditEvent(
            kind=kind, actor=asker.user, action="alert", target=target, channel=group.channel or self.channel,
            thread_ts=group.thread_ts, outcome=f"{group.alertname}: {outcome}" if outcome else group.alertname,
        ))  # fmt: skip
