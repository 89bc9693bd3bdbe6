"""bolt middleware: who asked, where, and what, read once per request; and who may do it.

``identify`` (global) puts the :class:`~bot.usecases.commands.Asker` and, for a slash command, the
parsed command in bolt's context. ``requires(gate)`` (per listener) resolves the asker's roles
only when the gate needs them, from what is known without waiting (user groups are cached and
refreshed in the background), refuses with an audited, private answer, and otherwise lets the
listener run with the roles in the asker. Both are on every acknowledgement's path: they call no
Slack method, and only a refusal writes to Redis.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.slack.render import render
from bot.usecases.access import Gate, allowed, gate_of
from bot.usecases.app import Profbot
from bot.usecases.commands import Asker, Command, Place, Unparsed, parse
from bot.usecases.content import NotAllowed
from bot.usecases.speech import tell
from profbot.aio import BackgroundTasks

log = structlog.get_logger("profbot.slack")


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
    raw = body.get("user")
    who: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return Asker(
        user=user,
        name=str(who.get("username") or who.get("name") or body.get("user_name") or ""),
        place=place,
        reply_to=str(body["response_url"]) if body.get("response_url") else None,
        form_handle=str(body["trigger_id"]) if body.get("trigger_id") else None,
    )


class Identify(AsyncMiddleware):
    """A class rather than a function: bolt inspects a function middleware's parameters on every
    request to pass them (``build_async_required_kwargs``), on the ack path."""

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse | None:
        body, context = req.body, req.context
        context["asker"] = asker_of(body, str(context.user_id or ""))
        if "command" in body:
            context["parsed"] = parsed = parse(str(body.get("text", "")))
            if isinstance(parsed, Command):  # written after the ack is sent (the same pass's end)
                line = {"user": context.user_id, "channel": body.get("channel_id"), "sub": parsed.word}
                asyncio.get_running_loop().call_soon(functools.partial(log.info, "command", **line))
        await next()
        return None


def identify() -> AsyncMiddleware:
    return Identify()


class Requires(AsyncMiddleware):
    """Listener middleware: the asker needs ``gate`` (default: the parsed command's own). Roles
    come from what the access policy knows now (user ids, and user groups from its cache): the ack
    waits on no Slack call. A refusal is audited before it is answered (one Redis write)."""

    def __init__(self, profbot: Profbot, tasks: BackgroundTasks, gate: Gate | None) -> None:
        self.profbot, self.tasks, self.gate = profbot, tasks, gate

    async def async_process(
        self, *, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse | None:
        context, profbot = req.context, self.profbot
        asker: Asker = context["asker"]
        parsed = context.get("parsed")
        command = parsed if isinstance(parsed, Command | Unparsed) else None
        needed = self.gate or (gate_of(command) if command is not None else Gate.OPERATE)
        if needed is Gate.PUBLIC:
            await next()
            return None
        roles = profbot.access.roles_now(asker.user)
        context["asker"] = asker = asker.with_roles(roles)
        if allowed(roles, needed):
            await next()
            return None
        context["refused"] = True  # counted as not_allowed (bot/slack/metering.py)
        what = f"`{command.word}`" if command is not None else "this button"
        await profbot.access.refused(asker, what)
        refusal = NotAllowed(asker.user, what)
        if command is not None:  # typed: answered in the command's own response
            reply = {"response_type": "ephemeral", **render(refusal).as_kwargs()}
            return BoltResponse(status=200, body=json.dumps(reply), headers={"content-type": "application/json"})
        self.tasks.spawn(tell(profbot.ports.people, asker, refusal), name="refusal")
        return BoltResponse(status=200, body="")


def requires(profbot: Profbot, tasks: BackgroundTasks, gate: Gate | None = None) -> AsyncMiddleware:
    return Requires(profbot, tasks, gate)
