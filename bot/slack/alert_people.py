"""The alert threads' People in Slack: a thread's parent posted with its idempotency key in the
message's metadata (``chat.postMessage`` ``metadata``: ``event_type`` and ``event_payload``), found
again with ``conversations.history`` (``include_all_metadata``) over a bounded recent window, and a
previous thread's permalink (``chat.getPermalink``).

The look-up happens only for a parent whose post was begun and whose ts was never stored, so it is
rare: one ``conversations.history`` call over the window around that post, of at most 15 messages.
Slack allows apps outside its Marketplace (created after May 2025) one such call a minute and 15
messages a call; a window holding more than that is not paged through (a minute a page), the parent
is posted again and that is logged. ``conversations.history`` needs the
``channels:history`` (``groups:history`` for a private channel) scope: without it the parent cannot
be looked for and is posted again, which is logged.
"""

from __future__ import annotations

from typing import Any

import structlog

from bot.slack.people import SlackPeople
from bot.slack.render import render
from bot.usecases.commands import Place
from bot.usecases.content import Content
from bot.usecases.ports import MessageRef
from profbot.errors import FrontEndUnavailable

log = structlog.get_logger("profbot.slack")

PARENT_EVENT = "profbot_alert_thread"  # the metadata event type of an alert thread's first message
HISTORY_LIMIT = 15  # messages per conversations.history call: the most Slack gives non-Marketplace apps
CANNOT_READ_HISTORY = {"missing_scope", "not_allowed_token_type"}


def _key_of(message: dict[str, Any]) -> str | None:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != PARENT_EVENT:
        return None
    payload = metadata.get("event_payload")
    key = payload.get("key") if isinstance(payload, dict) else None
    return key if isinstance(key, str) else None


class SlackAlertPeople(SlackPeople):
    async def post_keyed(self, place: Place, content: Content, key: str) -> MessageRef:
        metadata = {"event_type": PARENT_EVENT, "event_payload": {"key": key}}
        answer = await self._call(
            "chat_postMessage", channel=place.channel, thread_ts=place.thread, metadata=metadata,
            **render(content).as_kwargs(),
        )  # fmt: skip
        return MessageRef(
            channel=str(answer.get("channel") or place.channel), ts=str(answer["ts"]), thread=place.thread
        )

    async def find_keyed(self, place: Place, key: str, since: float, until: float) -> MessageRef | None:
        try:
            answer = await self._call(
                "conversations_history", channel=place.channel, oldest=f"{max(0.0, since):.6f}",
                latest=f"{max(0.0, until):.6f}", inclusive=True, limit=HISTORY_LIMIT, include_all_metadata=True,
            )  # fmt: skip
        except FrontEndUnavailable as exc:
            if exc.reason not in CANNOT_READ_HISTORY:
                raise  # Slack away: try again later rather than post twice
            log.error("alert_parent_lookup_impossible", error=exc.reason, hint="grant channels:history")
            return None
        for message in answer.get("messages") or []:
            if _key_of(message) == key and not message.get("parent_user_id"):
                return MessageRef(channel=place.channel, ts=str(message["ts"]))
        if answer.get("has_more"):
            log.warning("alert_parent_lookup_bounded", channel=place.channel, key=key, limit=HISTORY_LIMIT)
        return None

    async def link(self, message: MessageRef) -> str | None:
        answer = await self._call("chat_getPermalink", channel=message.channel, message_ts=message.ts)
        permalink = answer.get("permalink")
        return str(permalink) if permalink else None
