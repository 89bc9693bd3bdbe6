"""Slack over Socket Mode: the same bolt app, fed by slack_bolt's async Socket Mode adapter.

``apps.connections.open`` goes through the bot's own Web API client, so to ``SLACK_API_URL`` like
every other call. slack_sdk's client acknowledges each envelope with its ``envelope_id`` (and the
listener's answer: a slash command's reply, a modal's errors) as the listener returns; it
reconnects when Slack closes the connection, asks it to, or stops answering pings.
"""

from __future__ import annotations

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from profbot.errors import ConfigError

PING_SECONDS = 10.0


async def check_app_token(client: AsyncWebClient, app_token: str) -> None:
    """A refused app-level token stops the process with its name, rather than retrying for ever."""
    try:
        await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in ("invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked", "account_inactive"):
            raise ConfigError(f"SLACK_APP_TOKEN was refused by Slack ({error})") from None
        raise


async def connect(bolt: AsyncApp, client: AsyncWebClient, app_token: str) -> AsyncSocketModeHandler:
    handler = AsyncSocketModeHandler(bolt, app_token, web_client=client, ping_interval=PING_SECONDS)
    await handler.connect_async()  # type: ignore[no-untyped-call]  # slack_bolt leaves it unannotated
    return handler
