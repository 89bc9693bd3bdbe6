"""The audit trail, as the use cases write and read it, and its mirror to a channel.

Writing never stands in the way of what is being audited: a refusal stands, and a change goes on,
when the trail cannot be written; that failure is logged as an error. Reading answers the latest
events to the asker alone. The mirror posts each event to a channel and lets a failure through
only when a retry may help, so nothing is lost while the front end is down.
"""

from __future__ import annotations

import structlog

from bot.usecases.commands import Asker, AuditQuery, Place
from bot.usecases.content import AuditEntry, AuditListing
from bot.usecases.ports import AuditTrail, People
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


async def mirror(people: People, channel: str, event: AuditEvent) -> None:
    """Post one audit event to ``channel``. A channel or a message the front end will never take
    is logged and skipped (the event stays in the trail); other failures raise, to be retried."""
    try:
        await people.post(Place(channel=channel), AuditEntry(event))
    except (PlaceUnavailable, ContentRefused) as exc:
        log.error("audit_mirror_refused", error=exc.reason, channel=channel)
