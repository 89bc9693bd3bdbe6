"""The audit trail, as the use cases write and read it, and its mirror to a channel.

Writing never stands in the way of what is being audited: a refusal stands, and a change goes on,
when the trail cannot be written; that failure is logged as an error. Reading answers the latest
events to the asker alone. The mirror posts each event to a channel and lets a failure through
only when a retry may help, so nothing is lost while the front end is down. A channel that refuses
the bot holds the mirror where it is, in order (logged once, counted: bot/usecases/refusals.py),
tried again after a wait of 1 to 15 minutes; the events wait in the trail meanwhile.
"""

from __future__ import annotations

import time

import structlog

from bot.usecases.commands import Asker, AuditQuery, Place
from bot.usecases.content import AuditEntry, AuditListing
from bot.usecases.ports import AuditTrail, Clock, People
from bot.usecases.refusals import ChannelRefusals
from bot.usecases.speech import tell
from profbot.audit import AuditEvent
from profbot.errors import ContentRefused, PlaceUnavailable, ProfbotError

log = structlog.get_logger("profbot.audit")


class AuditRecords:
    def __init__(self, trail: AuditTrail) -> None:
        self.trail = trail

    async def record(self, event: AuditEvent) -> None:
        try:
            await self.trail.append(event)
        except ProfbotError as exc:
            log.error("audit_unwritten", audit_event=event.kind.value, request=event.request_id, error=str(exc))

    async def latest(self, people: People, asker: Asker, query: AuditQuery) -> list[AuditEvent]:
        events = await self.trail.latest(query.count)
        await tell(people, asker, AuditListing(events))
        return events


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
