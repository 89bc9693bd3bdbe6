"""The People port, spoken in Slack: post, update and reply with the Web API, tell one person with
their ``response_url`` (else ``chat.postEphemeral``), ask with a modal (``views.open``), attach a
picture with ``files_upload_v2`` (drawn in a worker thread: matplotlib blocks). Evidence too long
for a message is posted as an excerpt, and the whole uploaded as a text file in the same thread.
Every message goes with link and media unfurls off (``Message.as_kwargs``).

Slack's errors become profbot's delivery errors here and nowhere else (``SLACK_ERRORS``): a place
the bot may not post in, content Slack refuses, a message gone, or Slack unavailable (after
slack_sdk's own retries of 429 with ``Retry-After``, 5xx and connection errors).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.pictures import png_of
from bot.slack.auth import CachedAuthorize
from bot.slack.pacing import ChannelPacer, Turns
from bot.slack.render import destroy_modal, render
from bot.slack.render.commands import cannot_post_message
from bot.slack.render.pictures import upload_of
from bot.slack.render.reports import evidence_message, evidence_upload
from bot.usecases.commands import Asker, Place
from bot.usecases.content import CannotPostHere, Content, Drawing, Form
from bot.usecases.ports import MessageRef
from handlers.findings import Evidence
from profbot.errors import ContentRefused, DeliveryError, FrontEndUnavailable, MessageGone, PlaceUnavailable

log = structlog.get_logger("profbot.slack")

# Slack's error codes, as profbot's delivery errors. Anything else is FrontEndUnavailable: try later.
SLACK_ERRORS: dict[str, type[DeliveryError]] = {
    "channel_not_found": PlaceUnavailable,
    "not_in_channel": PlaceUnavailable,
    "is_archived": PlaceUnavailable,
    "restricted_action": PlaceUnavailable,
    "user_not_in_channel": PlaceUnavailable,
    "invalid_blocks": ContentRefused,
    "invalid_blocks_format": ContentRefused,
    "msg_too_long": ContentRefused,
    "msg_blocks_too_long": ContentRefused,
    "no_text": ContentRefused,
    "message_not_found": MessageGone,
    "cant_update_message": MessageGone,
    "expired_trigger_id": MessageGone,
    "invalid_trigger_id": MessageGone,
}


# Slack's conversation ids (C public, G private, D direct); a terminal's place ("shell") is not one.
SLACK_CHANNEL = re.compile(r"[CGD][A-Z0-9]{2,}")
# A person's own place (a click in the App Home): chat.postMessage to their id writes in the app's
# Messages tab.
SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")


def delivery_error(code: str, method: str) -> DeliveryError:
    return SLACK_ERRORS.get(code, FrontEndUnavailable)(code, f"Slack {method}: {code}")


class SlackPeople:
    def __init__(
        self,
        client: AsyncWebClient,
        session: aiohttp.ClientSession,
        *,
        pacer: ChannelPacer | None = None,
        identity: CachedAuthorize | None = None,
        turns: Turns | None = None,
    ) -> None:
        """``pacer``: pace writes per channel (the alert threads' storms), else write at once.
        ``identity``: the bot's own (auth.test), to say whom to invite where the bot may not post.
        ``turns``: render and send in turns with the rest of the background work, behind the acks
        (the same Turns as the listeners')."""
        self.client = client
        self.session = session
        self.pacer = pacer
        self.identity = identity
        self.turns = turns

    async def _turn(self) -> None:
        if self.turns is not None:
            await self.turns.take()

    async def post(self, place: Place, content: Content) -> MessageRef:
        await self._turn()
        answer = await self._call(
            "chat_postMessage", channel=place.channel, thread_ts=place.thread, **render(content).as_kwargs()
        )
        message = MessageRef(
            channel=str(answer.get("channel") or place.channel), ts=str(answer["ts"]), thread=place.thread
        )
        if isinstance(content, Evidence):
            await self._upload_evidence(message, content)
        return message

    async def _upload_evidence(self, message: MessageRef, item: Evidence) -> None:
        """Long evidence, whole, as a text file in the thread of its excerpt. Refused, the excerpt
        says why (it was posted: the thread goes on without the file)."""
        upload = evidence_upload(item)
        if upload is None:
            return
        filename, title, text = upload
        try:
            await self._call(
                "files_upload_v2", channel=message.channel, thread_ts=message.thread or message.ts,
                content=text.encode(), filename=filename, title=title,
            )  # fmt: skip
        except DeliveryError as exc:
            log.warning("evidence_upload_failed", channel=message.channel, error=exc.reason)
            said = evidence_message(item, upload_error=exc.reason).as_kwargs()
            with contextlib.suppress(DeliveryError):  # else the excerpt stands as it was posted
                await self._call("chat_update", channel=message.channel, ts=message.ts, **said)

    async def update(self, message: MessageRef, content: Content) -> None:
        await self._turn()
        await self._call("chat_update", channel=message.channel, ts=message.ts, **render(content).as_kwargs())

    async def reply(self, message: MessageRef, content: Content) -> MessageRef:
        return await self.post(message.thread_place, content)

    async def tell(self, person: Asker, content: Content) -> None:
        await self._turn()
        if isinstance(content, CannotPostHere):  # says whom to invite: the bot, by its user id
            message = cannot_post_message(content, await self._bot_user()).as_kwargs()
        else:
            message = render(content).as_kwargs()
        if person.reply_to:
            await self._respond(person.reply_to, message)
            return
        if person.place.channel == person.user and SLACK_USER.fullmatch(person.user):
            await self._call("chat_postMessage", channel=person.user, **message)
            return
        await self._call("chat_postEphemeral", channel=person.place.channel, user=person.user, **message)

    def reaches(self, message: MessageRef) -> bool:
        return SLACK_CHANNEL.fullmatch(message.channel) is not None

    async def _bot_user(self) -> str | None:
        """The bot's user id (auth.test, cached at start); None when Slack could not say."""
        if self.identity is None:
            return None
        try:
            return (await self.identity.warm()).bot_user_id
        except Exception as exc:  # Slack away: the message names the bot in words instead
            log.warning("slack_identity_unknown", error=f"{type(exc).__name__}: {exc}"[:200])
            return None

    async def ask(self, person: Asker, form: Form) -> None:
        if not person.form_handle:
            raise MessageGone("no_trigger_id", "no trigger id to open a form with")
        await self._turn()
        await self._call("views_open", trigger_id=person.form_handle, view=destroy_modal(form))

    async def attach(self, message: MessageRef, drawing: Drawing) -> None:
        try:  # drawing and its alt text (a walk of the whole profile) off the event loop
            png, (filename, title, alt) = await asyncio.to_thread(_draw, drawing)
        except Exception as exc:  # a picture that cannot be drawn must not take the thread down with it
            log.exception("drawing_failed", drawing=type(drawing).__name__)
            raise ContentRefused("not_drawable", f"could not draw {type(drawing).__name__}: {exc}") from exc
        if png is None:
            return
        thread = message.thread or message.ts
        await self._call(
            "files_upload_v2", channel=message.channel, thread_ts=thread, file=png, filename=filename, title=title,
            alt_txt=alt,
        )  # fmt: skip

    async def _respond(self, url: str, message: dict[str, Any]) -> None:
        # The response_url answers this person privately, even where the bot is not in the channel.
        webhook = AsyncWebhookClient(url, session=self.session, timeout=10)
        try:
            response = await webhook.send(response_type="ephemeral", replace_original=False, **message)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise FrontEndUnavailable(type(exc).__name__, f"response_url: {exc}") from exc
        if response.status_code != 200:
            code = response.body.strip()[:60] or f"http_{response.status_code}"
            raise FrontEndUnavailable(code, f"response_url answered {response.status_code}: {code}")

    async def _call(self, method: str, **kwargs: Any) -> Any:
        channel = kwargs.get("channel")
        personal = method == "chat_postMessage" and SLACK_USER.fullmatch(str(channel)) is not None
        if channel is not None and SLACK_CHANNEL.fullmatch(str(channel)) is None and not personal:
            # A place another front end made (a terminal's): nothing Slack could deliver to.
            raise PlaceUnavailable("not_a_slack_channel", f"Slack {method}: {str(channel)[:40]} is not a channel")
        if self.pacer is not None and "channel" in kwargs:
            await self.pacer.wait(str(kwargs["channel"]))
        try:
            return await getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            code = str(exc.response.get("error") or "unknown_error")
            log.warning("slack_refused", method=method, error=code)
            raise delivery_error(code, method) from exc
        except SlackRequestError as exc:  # files_upload_v2: the upload URL refused the bytes
            raise FrontEndUnavailable("upload_failed", f"Slack {method}: {exc}") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise FrontEndUnavailable(type(exc).__name__, f"Slack {method}: {exc}") from exc


def _draw(drawing: Drawing) -> tuple[bytes | None, tuple[str, str, str]]:
    """The PNG (None: nothing to draw) with its file name, title and alt text. Blocking."""
    return png_of(drawing), upload_of(drawing)
