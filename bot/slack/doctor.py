"""``profbot doctor``'s checks of Slack: the bot token, its scopes against the manifest's, the
app-level token for Socket Mode, and whether the alert and audit channels take the bot's posts
(a member, not archived), naming Slack's refusal (not_in_channel, is_archived, channel_not_found)
and how to let the bot in."""

from __future__ import annotations

import asyncio

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from profbot.doctor import Check
from profbot.settings import ServeSettings

# The bot scopes deploy/slack-app-manifest.yml (and its HTTP twin) ask for; a test keeps them equal.
REQUIRED_SCOPES = (
    "commands", "chat:write", "files:write", "usergroups:read", "channels:read", "groups:read",
    "channels:history", "groups:history",  # an alert thread's parent looked for by its key (bot/slack/alert_people.py)
)  # fmt: skip
UNREACHABLE = (aiohttp.ClientError, OSError, asyncio.TimeoutError)


def _error(exc: Exception) -> str:
    return str(exc.response.get("error")) if isinstance(exc, SlackApiError) else f"{type(exc).__name__}: {exc}"


async def slack(settings: ServeSettings, client: AsyncWebClient) -> list[Check]:
    try:
        identity = await client.auth_test()
    except (SlackApiError, *UNREACHABLE) as exc:
        fix = ("install the app (deploy/slack-app-manifest.yml) and copy its Bot User OAuth Token (xoxb-...) "
               "to SLACK_BOT_TOKEN")  # fmt: skip
        return [Check("Slack bot token", False, f"auth.test: {_error(exc)}", fix)]
    checks = [Check("Slack bot token", True, f"{identity.get('user')} in {identity.get('team')}")]
    granted = {s.strip() for s in str(identity.headers.get("x-oauth-scopes", "")).split(",") if s.strip()}
    missing = [s for s in REQUIRED_SCOPES if s not in granted]
    checks.append(
        Check("Slack scopes", False, f"missing {', '.join(missing)}",
              "add them under OAuth & Permissions (or recreate the app from deploy/slack-app-manifest.yml), "
              "then reinstall the app to the workspace")
        if missing else Check("Slack scopes", True, ", ".join(REQUIRED_SCOPES))
    )  # fmt: skip
    if settings.slack_app_token is not None:
        try:
            await client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
            checks.append(Check("Slack Socket Mode", True, "the app-level token opens a connection"))
        except (SlackApiError, *UNREACHABLE) as exc:
            fix = ("enable Socket Mode and create an app-level token with connections:write "
                   "(Basic Information -> App-Level Tokens); set it as SLACK_APP_TOKEN")  # fmt: skip
            checks.append(Check("Slack Socket Mode", False, f"apps.connections.open: {_error(exc)}", fix))
    me = str(identity.get("user") or "profbot")
    for what, channel in (("alert channel", settings.alert_channel), ("audit channel", settings.audit_channel)):
        if channel:
            checks.append(await _member(client, what, channel, me))
    return checks


async def _member(client: AsyncWebClient, what: str, channel: str, me: str) -> Check:
    """Whether ``channel`` takes the bot's posts; if not, what Slack answers them (the refusal
    `profbot serve` logs and counts) and the fix."""
    name = f"Slack {what} {channel}"
    try:
        info = await client.conversations_info(channel=channel)
    except (SlackApiError, *UNREACHABLE) as exc:
        error = _error(exc)
        refused = " (posts are refused: channel_not_found)" if error == "channel_not_found" else ""
        return Check(name, False, f"conversations.info: {error}{refused}", "check the channel id (in Slack: the "
                     f"channel's details, at the bottom); a private channel: /invite @{me} in it first")  # fmt: skip
    found = info.get("channel") or {}
    here = f"#{found.get('name', channel)}"
    if found.get("is_archived"):
        return Check(name, False, f"{here} is archived (posts are refused: is_archived)",
                     f"unarchive {here}, or set another channel")  # fmt: skip
    if not found.get("is_member"):
        return Check(name, False, f"{me} is not a member (posts are refused: not_in_channel)",
                     f"in {here}: /invite @{me}")  # fmt: skip
    return Check(name, True, f"{me} is a member of {here}")
