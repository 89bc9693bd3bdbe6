"""The audit trail, as the use cases write and read it, and its mirror to a channel.

What is written here never stands in the way of what is being audited: a refusal stands, and a
running change goes on, when the trail cannot be written; that failure is logged as an error. Reading answers the latest
events to the asker alone. The mirror posts each event to a channel and lets a failure through
only when a retry may help, so nothing is lost while the front end is down. A channel that refuses
the bot holds the mirror where it is, in order (logged once, counted: bot/usecases/refusals.py),
tried again after a wait of 1 to 15 minutes; the events wait in the trail meanwhile.

A change request's filing, moves and verification are not recorded here: the change store writes
each with its event, in one write (bot/usecases/ports.py, ``ChangeStore``), to the same trail,
so a process killed in between cannot leave a move unaudited; they stand or fall together.
"""

from __future__ import annotations

import time

import structlog

from bot.usecases.commands import Place
from bot.usecases.content import AuditEntry
from bot.usecases.ports import AuditTrail, Clock, People
from bot.usecases.refusals import ChannelRefusals
from profbot.audit import AuditEvent, AuditKind
from profbot.errors import ContentRefused, PlaceUnavailable, ProfbotError

log = structlog.get_logger("profbot.audit")

# One person's refusals, recorded one by one up to this many a minute; past it they are counted and
# the count recorded with their next refusal: a script hammering a button must not push the
# audit's real events out of its capped stream.
REFUSALS_PER_MINUTE = 5
REFUSAL_WINDOW_SECONDS = 60.0


class AuditRecords:
    def __init__(self, trail: AuditTrail, clock: Clock = time.time) -> None:
        self.trail = trail
        self.clock = clock
        self._refusals: dict[str, tuple[float, int, int]] = {}  # actor: (window start, recorded, counted)

    async def record(self, event: AuditEvent) -> None:
        if event.kind is AuditKind.REFUSED and event.actor:
            admitted = self._admit_refusal(event.actor, event)
            if admitted is None:
                return
            event = admitted
        try:
            await self.trail.append(event)
        except ProfbotError as exc:
            log.error("audit_unwritten", audit_event=event.kind.value, request=event.request_id, error=str(exc))

    def _admit_refusal(self, actor: str, event: AuditEvent) -> AuditEvent | None:
        now = self.clock()
        if len(self._refusals) > 1000:  # forget windows long over
            self._refusals = {a: w for a, w in self._refusals.items() if now - w[0] < REFUSAL_WINDOW_SECONDS}
        start, recorded, counted = self._refusals.get(actor, (now, 0, 0))
        if now - start >= REFUSAL_WINDOW_SECONDS:
            if counted:
                more = f"and {counted} more refusals of {actor} in the minute before, not recorded one by one"
                event = event.model_copy(update={"outcome": f"{event.outcome}; {more}" if event.outcome else more})
            start, recorded, counted = now, 0, 0
        if recorded >= REFUSALS_PER_MINUTE:
            self._refusals[actor] = (start, recorded, counted + 1)
            log.info("audit_refusal_counted", actor=actor)
            return None
        self._refusals[actor] = (start, recorded + 1, counted)
        return event


class AuditMirror:
    """The audit, one event at a time, in a channel."""

    def __init__(self, people: People, channel: str, clock: Clock = time.time) -> None:
        self.people = people
        self.channel = channel
        self.refusals = ChannelRefusals("audit", clock)

    async def __call__(self, event: AuditEvent) -> float:
        """Post one event to the channel. 0: done with it (posted, or a message the front end will
        never take, logged and skipped: it stays in the trail). Else the channel refuses the bot:
        the seconds to wait before this event is tried again, nothing after it posted meanwhile.
        Other failures raise, to be retried."""
        wait = self.refusals.wait(self.channel)
        if wait > 0:
            return wait
        try:
            await self.people.post(Place(channel=self.channel), AuditEntry(event))
        except PlaceUnavailable as exc:
            self.refusals.refused(self.channel, exc.reason)
            return self.refusals.wait(self.channel)
        except ContentRefused as exc:
            log.error("audit_mirror_refused", error=exc.reason, channel=self.channel)
        else:
            self.refusals.accepted(self.channel)
        return 0.0
