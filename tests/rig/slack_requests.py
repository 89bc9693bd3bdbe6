"""Requests to the bot, signed exactly as Slack signs them."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from tests.rig.slack_standin import BOT_USER_ID, DEFAULT_CHANNEL, TEAM_ID

SIGNING_SECRET = "profbot-test-signing-secret"
# The people of the tests. The bot under test runs with PROFBOT_OPERATORS=OPERATOR,OPERATOR_2 and
# PROFBOT_APPROVERS=OPERATOR,APPROVERS_GROUP; the Slack stand-in puts APPROVER in that group.
OPERATOR = "U0OPERATOR"  # an operator and an approver
OPERATOR_2 = "U0OPERATOR2"  # an operator only
APPROVER = "U0APPROVER"  # an approver through the user group only
APPROVERS_GROUP = "S0APPROVERS"
STRANGER = "U0STRANGER"  # neither


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
    return urlencode(command_payload(text, command=command, user=user, channel=channel, response_url=response_url))


def command_payload(
    text: str, *, command: str = "/prof", user: str = OPERATOR, channel: str = DEFAULT_CHANNEL, response_url: str
) -> dict[str, str]:
    """A slash command's fields: form-encoded over HTTP, the payload of a Socket Mode envelope."""
    return {
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


def post_command(
    bot_url: str, text: str, *, response_url: str, channel: str = DEFAULT_CHANNEL, user: str = OPERATOR,
    secret: str = SIGNING_SECRET, timestamp: int | None = None,
) -> httpx.Response:  # fmt: skip
    body = command_body(text, user=user, channel=channel, response_url=response_url)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, secret, timestamp)}
    return httpx.post(f"{bot_url}/slack/events", content=body, headers=headers, timeout=10)


def interaction_request(payload: dict[str, Any], *, secret: str = SIGNING_SECRET) -> tuple[str, dict[str, str]]:
    """A block_actions or view_submission payload, form-encoded and signed as Slack sends it."""
    body = urlencode({"payload": json.dumps(payload)})
    return body, {"Content-Type": "application/x-www-form-urlencoded", **sign(body, secret)}


def post_interaction(bot_url: str, payload: dict[str, Any], *, secret: str = SIGNING_SECRET) -> httpx.Response:
    body, headers = interaction_request(payload, secret=secret)
    return httpx.post(f"{bot_url}/slack/events", content=body, headers=headers, timeout=30)


def button_payload(
    button: dict[str, Any], *, user: str, response_url: str, message_ts: str, thread_ts: str | None = None,
    channel: str = DEFAULT_CHANNEL,
) -> dict[str, Any]:  # fmt: skip
    message: dict[str, Any] = {"ts": message_ts}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": TEAM_ID},
        "channel": {"id": channel},
        "message": message,
        "response_url": response_url,
        "trigger_id": f"{time.time():.0f}.42.{user}",
        "actions": [{"type": "button", "action_id": button["action_id"], "value": button["value"],
                     "block_id": "b", "action_ts": str(time.time())}],
    }  # fmt: skip


def view_submission_payload(view: dict[str, Any], *, user: str, values: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The modal ``view`` (as views.open received it) submitted with plain-text ``values``:
    {block_id: {action_id: text}}."""
    state = {block: {action: {"type": "plain_text_input", "value": text} for action, text in inputs.items()}
             for block, inputs in values.items()}  # fmt: skip
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": user},
        "view": {**view, "id": "V0MODAL", "state": {"values": state}},
    }


def home_opened_event(user: str, *, tab: str = "home") -> dict[str, Any]:
    """``app_home_opened`` as Slack sends it: the JSON body over HTTP, a Socket Mode envelope's payload."""
    return {
        "token": "unused-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "A0PROFBOT",
        "event": {"type": "app_home_opened", "user": user, "channel": f"D{user[1:]}", "tab": tab,
                  "event_ts": f"{time.time():.6f}"},
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }  # fmt: skip


def post_event(bot_url: str, event: dict[str, Any], *, secret: str = SIGNING_SECRET) -> httpx.Response:
    """An Events API request (JSON), signed as Slack signs it."""
    body = json.dumps(event)
    headers = {"Content-Type": "application/json", **sign(body, secret)}
    return httpx.post(f"{bot_url}/slack/events", content=body, headers=headers, timeout=10)


def home_button_payload(button: dict[str, Any], *, user: str) -> dict[str, Any]:
    """A click in the App Home tab: block_actions from a home view, with no channel, no message and
    no response_url (Slack sends none for a Home tab)."""
    return {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": TEAM_ID},
        "api_app_id": "A0PROFBOT",
        "container": {"type": "view", "view_id": "V0HOME"},
        "trigger_id": f"{time.time():.0f}.42.{user}",
        "view": {"id": "V0HOME", "type": "home", "team_id": TEAM_ID, "blocks": []},
        "actions": [{"type": "button", "action_id": button["action_id"], "value": button["value"],
                     "block_id": "b", "action_ts": str(time.time())}],
    }  # fmt: skip
