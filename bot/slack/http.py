"""Slack's requests over HTTP: ``POST /slack/events`` (slash commands, interactivity, events).

A thin aiohttp sub-application. Its middleware checks every request before anything parses it:
the size (aiohttp refuses over the server's ``client_max_size`` with 413), Slack's signature and
timestamp (401 with the reason), then the body's shape (400). The handler hands the request to
bolt as it came.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.edge import read_body

log = structlog.get_logger("profbot.http")

SIGNATURE_MAX_AGE_SECONDS = 300  # Slack's rule: reject requests more than five minutes off


def _refuse(status: int, reason: str, request: web.Request) -> web.Response:
    log.warning("slack_request_rejected", status=status, reason=reason, remote=request.remote)
    return web.json_response({"ok": False, "error": reason}, status=status)


def check_signature(verifier: SignatureVerifier, headers: dict[str, str], body: bytes) -> str | None:
    """The reason the request is not from Slack, or None if it is."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature:
        return "missing X-Slack-Request-Timestamp or X-Slack-Signature header"
    # ASCII digits, and few of them: int() refuses a string of over 4,300 digits, and takes other
    # scripts' digits too.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12) or (
        abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS
    ):
        return "request timestamp is not within five minutes of now"
    if not signature.isascii() or not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        return "invalid signature"
    return None


# Fields Slack sends as objects, or null, wherever they appear at the top of a payload: bolt and
# profbot's own middleware index into them before any listener can refuse the request.
_OBJECT_FIELDS = ("user", "team", "channel", "message", "view", "container", "enterprise", "event")


def check_shape(payload: dict[str, Any]) -> str | None:
    """The reason a payload's envelope is not one Slack sends (a 400), or None."""
    if not isinstance(payload.get("type"), str):
        return "'type' is not a string"
    for key in _OBJECT_FIELDS:
        value = payload.get(key)
        if value is not None and not isinstance(value, dict):
            return f"'{key}' is not an object"
        if isinstance(value, dict) and not isinstance(value.get("id", ""), str | None):
            return f"'{key}.id' is not a string"
    event = payload.get("event")
    if isinstance(event, dict):
        if not isinstance(event.get("type"), str):
            return "'event' has no 'type'"
        # A user is an id (most events) or an object (user_change); the listeners read its id.
        if not isinstance(event.get("user", ""), str | dict) or not isinstance(event.get("tab", ""), str):
            return "'event.user' or 'event.tab' is not what Slack sends"
    for key in ("actions", "authorizations"):
        listed = payload.get(key, [{}])
        if not isinstance(listed, list) or not listed or not all(isinstance(item, dict) for item in listed):
            return f"'{key}' is not a list of objects"
    for action in payload.get("actions", []):
        if not isinstance(action.get("action_id"), str) or not isinstance(action.get("block_id", ""), str):
            return "an action's 'action_id' or 'block_id' is not a string"
    return None


def check_body(content_type: str, body: bytes) -> str | None:
    """The reason the body is not a Slack payload bolt can route, or None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    if content_type == "application/json":
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            return f"body is not valid JSON ({exc.msg} at position {exc.pos})"
        if not isinstance(parsed, dict) or "type" not in parsed:
            return "JSON body has no 'type' field"
        return check_shape(parsed)
    form = parse_qs(text, keep_blank_values=True)
    if "payload" in form:
        try:
            payload = json.loads(form["payload"][0])
        except json.JSONDecodeError as exc:
            return f"'payload' is not valid JSON ({exc.msg})"
        if not isinstance(payload, dict) or "type" not in payload:
            return "'payload' has no 'type' field"
        return check_shape(payload)
    if "command" in form:
        return None
    return "body is neither a slash command, an interactivity payload nor an event"


def signed_by_slack(signing_secret: str) -> Middleware:
    verifier = SignatureVerifier(signing_secret)

    @web.middleware
    async def verify(request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await read_body(request)  # 413 past client_max_size, 408 when sent too slowly
        headers = {k.lower(): v for k, v in request.headers.items()}
        reason = check_signature(verifier, headers, body)
        if reason is not None:
            return _refuse(401, reason, request)
        reason = check_body(request.content_type, body)
        if reason is not None:
            return _refuse(400, reason, request)
        response: web.StreamResponse = await handler(request)
        return response

    return verify


def slack_events_app(bolt: AsyncApp, signing_secret: str) -> web.Application:
    """Mount with ``add_subapp("/slack", ...)``: serves ``POST /slack/events``."""

    async def events(request: web.Request) -> web.StreamResponse:
        body = await request.read()  # cached by aiohttp after the middleware's read
        bolt_request = AsyncBoltRequest(
            body=body.decode("utf-8"),
            query=request.query_string,
            headers={k.lower(): [v] for k, v in request.headers.items()},
        )
        response = await bolt.async_dispatch(bolt_request)
        return web.Response(
            status=response.status,
            body=response.body.encode("utf-8") if response.body else b"",
            headers={
                k: v for k, v in response.first_headers_without_set_cookie().items() if k.lower() != "content-length"
            },
        )

    app = web.Application(middlewares=[signed_by_slack(signing_secret)])
    app.router.add_post("/events", events)
    return app
