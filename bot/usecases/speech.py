"""Saying things to people through the People port, the same way in every use case: an answer
goes where it was asked, or to the asker alone when the place refuses the bot; what cannot be
said is logged, never raised at the person."""

from __future__ import annotations

import structlog

from bot.usecases.commands import Asker, Place
from bot.usecases.content import CannotPostHere, Content, Drawing, InternalError
from bot.usecases.ports import MessageRef, People
from profbot.errors import DeliveryError, PlaceUnavailable

log = structlog.get_logger("profbot.speech")


async def answer(people: People, asker: Asker, content: Content, place: Place | None = None) -> MessageRef | None:
    """Post ``content`` where ``asker`` asked (or in ``place``); its message, or None when it went
    to the asker alone because the place refused the bot, or could not be delivered at all."""
    where = place or asker.place
    try:
        return await people.post(where, content)
    except PlaceUnavailable as exc:
        log.warning("post_refused", channel=where.channel, reason=exc.reason)
        await tell(people, asker, CannotPostHere(exc.reason, content, channel=where.channel))
    except DeliveryError as exc:
        log.warning("post_failed", channel=where.channel, reason=exc.reason)
        await tell(people, asker, InternalError(exc.reason))
    return None


async def tell(people: People, asker: Asker, content: Content) -> None:
    """To ``asker`` alone; a failure is logged (there is nobody else to tell)."""
    try:
        await people.tell(asker, content)
    except DeliveryError as exc:
        log.warning("tell_failed", user=asker.user, reason=exc.reason)


async def post(people: People, place: Place, content: Content) -> MessageRef | None:
    """In ``place``, with nobody to fall back on; a failure is logged."""
    try:
        return await people.post(place, content)
    except DeliveryError as exc:
        log.warning("post_failed", channel=place.channel, reason=exc.reason)
        return None


async def reply(people: People, message: MessageRef, content: Content) -> MessageRef | None:
    """In ``message``'s thread; a failure is logged and the thread goes on without it."""
    try:
        return await people.reply(message, content)
    except DeliveryError as exc:
        log.warning("reply_failed", channel=message.channel, reason=exc.reason)
        return None


async def show(people: People, message: MessageRef, content: Content) -> None:
    """Update ``message`` in place; a failure is logged."""
    try:
        await people.update(message, content)
    except DeliveryError as exc:
        log.warning("update_failed", channel=message.channel, reason=exc.reason)


async def attach(people: People, message: MessageRef, drawing: Drawing) -> None:
    """A picture in ``message``'s thread; a failure is logged (the words were already said)."""
    try:
        await people.attach(message, drawing)
    except DeliveryError as exc:
        log.warning("attach_failed", channel=message.channel, reason=exc.reason)
