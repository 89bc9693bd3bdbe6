"""Posting answers where a command was typed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.context import Invocation

log = structlog.get_logger("profbot.posting")

# Slack errors that mean "not this channel": the user still gets the answer, privately.
CHANNEL_ERRORS = {"channel_not_found", "not_in_channel", "is_archived", "restricted_action"}


async def post_in_channel(inv: Invocation, message: messages.Message) -> str | None:
    """Post where the command was typed and return the message's ts (for thread replies); if
    Slack refuses the channel, answer the user privately and return None."""
    try:
        response = await inv.deps.client.chat_postMessage(channel=inv.channel_id, **message.as_kwargs())
        return str(response.get("ts")) if response.get("ts") else None
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        log.warning("post_failed", channel=inv.channel_id, error=error)
        if error in CHANNEL_ERRORS:
            note = messages.cannot_post_here(error)
            private = messages.Message(f"{note}\n{message.text}", [messages.section(note), *message.blocks])
            await inv.respond(response_type="ephemeral", **private.as_kwargs())
        else:
            await inv.respond(response_type="ephemeral", text=f"{messages.internal_error()} (`{error}`)")
        return None


async def tell_privately(respond: Any, text: str) -> None:
    """An ephemeral answer to whoever clicked or typed, leaving the message they acted on as it is."""
    await respond(response_type="ephemeral", replace_original=False, text=text)


@contextlib.asynccontextmanager
async def answering_errors(inv: Invocation) -> AsyncIterator[None]:
    """Whatever breaks in background work, the user who was told "checking..." hears about it."""
    try:
        yield
    except Exception:
        log.exception("background_work_failed", user=inv.user_id, channel=inv.channel_id)
        with contextlib.suppress(Exception):
            await tell_privately(inv.respond, messages.internal_error())
