"""bolt middleware: who asked, where, and what, read once per request; and who may do it.

``identify`` (global) puts the :class:`~bot.usecases.commands.Asker` and, for a slash command, the
parsed command in bolt's context. ``requires(gate)`` (per listener) resolves the asker's roles
only when the gate needs them, refuses with an audited, private answer, and otherwise lets the
listener run with the roles in the asker.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from slack_bolt.response import BoltResponse

from bot.slack.render import render
from bot.usecases.access import Gate, allowed, gate_of
from bot.usecases.app import Profbot
from bot.usecases.commands import Asker, Command, Place, Unparsed, parse
from bot.usecases.content import NotAllowed
from bot.usecases.speech import tell
from profbot.aio import BackgroundTasks

log = structlog.get_logger("profbot.slack")

Next = Callable[[], Awaitable[None]]
Middleware = Callable[..., Awaitable[BoltResponse | None]]


def asker_of(body: dict[str, Any], user: str) -> Asker:
    """Who asked and where, from a slash command's or an interaction's payload."""
    if "command" in body:
        place = Place(channel=str(body.get("channel_id", "")))
    elif (body.get("view") or {}).get("type") == "home" and user:
        place = Place(channel=user)  # a click in the App Home: answered in the app's Messages tab
    else:
        message = body.get("message") or {}
        thread = message.get("thread_ts") or message.get("ts")
        place = Place(channel=str((body.get("channel") or {}).get("id", "")), thread=str(thread) if thread else None)
    return Asker(
        user=user,
        place=place,
        reply_to=str(body["response_url"]) if body.get("response_url") else None,
        form_handle=str(body["trigger_id"]) if body.get("trigger_id") else None,
    )


def identify() -> Middleware:
    async def identify(body: dict[str, Any], context: Any, next: Next) -> BoltResponse | None:
        context["asker"] = asker_of(body, str(context.user_id or ""))
        if "command" in body:
            context["parsed"] = parse(str(body.get("text", "")))
            if isinstance(context["parsed"], Command):
                log.info("command", user=context.user_id, channel=body.get("channel_id"), sub=context["parsed"].word)
        await next()
        return None

    return identify


def parsed_as(*types: type[Command | Unparsed]) -> Callable[..., Awaitable[bool]]:
    """A listener matcher: the slash command parsed as one of ``types``."""

    async def matches(context: Any) -> bool:
        return isinstance(context.get("parsed"), types)

    return matches


def requires(profbot: Profbot, tasks: BackgroundTasks, gate: Gate | None = None) -> Middleware:
    """Listener middleware: the asker needs ``gate`` (default: the parsed command's own)."""

    async def check(body: dict[str, Any], context: Any, next: Next) -> BoltResponse | None:
        asker: Asker = context["asker"]
        command = context.get("parsed")
        typed = isinstance(command, Command | Unparsed)
        needed = gate or (gate_of(command) if typed else Gate.OPERATE)
        if needed is Gate.PUBLIC:
            await next()
            return None
        roles = await profbot.access.roles(asker.user)
        context["asker"] = asker = asker.with_roles(roles)
        if allowed(roles, needed):
            await next()
            return None
        context["refused"] = True  # counted as not_allowed (bot/slack/metering.py)
        what = f"`{command.word}`" if typed else "this button"
        await profbot.access.refused(asker, what)
        refusal = NotAllowed(asker.user, what)
        if typed:
            reply = {"response_type": "ephemeral", **render(refusal).as_kwargs()}
            return BoltResponse(status=200, body=json.dumps(reply), headers={"content-type": "application/json"})
        tasks.spawn(tell(profbot.ports.people, asker, refusal), name="refusal")
        return BoltResponse(status=200, body="")

    return check
