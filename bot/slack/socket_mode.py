"""Slack over Socket Mode: the same bolt app, fed by slack_bolt's async Socket Mode adapter.

``apps.connections.open`` goes through the bot's own Web API client, so to ``SLACK_API_URL`` like
every other call. Every envelope is acknowledged with its ``envelope_id`` (with the listener's
answer where there is one: a slash command's reply, a modal's errors) as the listener returns, and
also when no listener took it or one failed: Slack would otherwise send it again. slack_sdk's client
reconnects when Slack closes the connection, asks it to, or stops answering pings; the first
connection is made in the background, so Slack away at start delays Slack only.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import structlog
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from profbot.errors import ConfigError

log = structlog.get_logger("profbot.slack")

PING_SECONDS = 10.0
REFUSED = ("invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked", "account_inactive")


class AcknowledgingHandler(AsyncSocketModeHandler):
    """bolt's handler acknowledges only what a listener answered with 200; this one acknowledges
    every envelope, so nothing is redelivered for ever."""

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.time()
        try:
            answer: BoltResponse = await run_async_bolt_app(self.app, req)
        except Exception:
            log.exception("socket_mode_envelope_failed", type=req.type)
            answer = BoltResponse(status=500, body="")
        if answer.status == 200:
            await send_async_response(client, req, answer, started)
        else:
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))


async def check_app_token(client: AsyncWebClient, app_token: str) -> None:
    """A refused app-level token stops the process with its name, rather than retrying for ever;
    Slack out of reach is only logged (the connection is retried)."""
    try:
        await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in REFUSED:
            raise ConfigError(f"SLACK_APP_TOKEN was refused by Slack ({error})") from None
        log.warning("slack_socket_mode_check_failed", error=str(error))
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        log.warning("slack_unreachable_at_start", error=f"{type(exc).__name__}: {exc}")


def connect(bolt: AsyncApp, client: AsyncWebClient, app_token: str) -> tuple[AcknowledgingHandler, asyncio.Task[None]]:
    """The handler, and the task making its first connection (slack_sdk retries until it connects)."""
    handler = AcknowledgingHandler(bolt, app_token, web_client=client, ping_interval=PING_SECONDS)
    connecting = asyncio.create_task(handler.connect_async(), name="slack-socket-mode")  # type: ignore[no-untyped-call]
    return handler, connecting


async def close(handler: AsyncSocketModeHandler, connecting: asyncio.Task[None]) -> None:
    """Stop connecting, and close the connection (again is harmless: slack_sdk's close is idempotent)."""
    connecting.cancel()
    await handler.close_async()  # type: ignore[no-untyped-call]
