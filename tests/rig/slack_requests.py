"""Requests to the bot, signed exactly as Slack signs them."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from tests.rig.slack_standin import DEFAULT_CHANNEL, TEAM_ID

SIGNING_SECRET = "profbot-test-signing-secret"
OPERATOR = "U0OPERATOR"


def sign(body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": str(SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)),
    }


def command_body(
    text: str,
    *,
    command: str = "/prof",
    user: str = OPERATOR,
    channel: str = DEFAULT_CHANNEL,
    response_url: str,
) -> str:
    return urlencode(
        {
            "token": "unused-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "profbot-test",
            "channel_id": channel,
            "channel_name": "prof-ops",
            "user_id": user,
            "user_name": "operator",
            "command": command,
            "text": text,
            "api_app_id": "A0PROFBOT",
            "response_url": response_url,
            "trigger_id": "1337.42.abcdef",
        }
    )


def post_command(
    bot_url: str, text: str, *, response_url: str, channel: str = DEFAULT_CHANNEL, user: str = OPERATOR,
    secret: str = SIGNING_SECRET, timestamp: int | None = None,
) -> httpx.Response:  # fmt: skip
    body = command_body(text, user=user, channel=channel, response_url=response_url)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, secret, timestamp)}
    return httpx.post(f"{bot_url}/slack/events", content=body, headers=headers, timeout=10)
