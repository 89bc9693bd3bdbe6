"""HTTP routes of ``profbot serve``.

``POST /slack/events`` takes slash commands, interactivity and Events API requests. Every request
is checked here, before anything parses it: size (aiohttp refuses over ``MAX_BODY_BYTES`` with
413), Slack's signature and timestamp (401 with the reason), then the body's shape (400).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

import structlog
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

log = structlog.get_logger("profbot.http")

MAX_BODY_BYTES = 1024 * 1024  # Slack's own payloads stay far below this
SIGNATURE_MAX_AGE_SECONDS = 300  # Slack's rule: reject requests more than five minutes off


def _text(status: int, reason: str) -> web.Response:
    return web.json_response({"ok": False, "error": reason}, status=status)


def check_signature(verifier: SignatureVerifier, headers: dict[str, str], body: bytes) -> str | None:
    """The reason the request is not from Slack, or None if it is."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature:
        return "missing X-Slack-Request-Timestamp or X-Slack-Signature header"
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
        return "request timestamp is not within five minutes of now"
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        return "invalid signature"
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
        return None
    form = parse_qs(text, keep_blank_values=True)
    if "payload" in form:
        try:
            payload = json.loads(form["payload"][0])
        except json.JSONDecodeError as exc:
            return f"'payload' is not valid JSON ({exc.msg})"
        if not isinstance(payload, dict) or "type" not in payload:
            return "'payload' has no 'type' field"
        return None
    if "command" in form:
        return None
    return "body is neither a slash command, an interactivity payload nor an event"


def build_web_app(
    bolt: AsyncApp,
    signing_secret: str,
    health: Callable[[], Awaitable[dict[str, str]]],
    extra_routes: list[web.RouteDef] | None = None,
) -> web.Application:
    verifier = SignatureVerifier(signing_secret)

    async def slack_events(request: web.Request) -> web.StreamResponse:
        body = await request.read()  # raises 413 past client_max_size
        headers = {k.lower(): v for k, v in request.headers.items()}
        reason = check_signature(verifier, headers, body)
        if reason is not None:
            log.warning("slack_request_rejected", status=401, reason=reason, remote=request.remote)
            return _text(401, reason)
        reason = check_body(request.content_type, body)
        if reason is not None:
            log.warning("slack_request_rejected", status=400, reason=reason, remote=request.remote)
            return _text(400, reason)
        bolt_request = AsyncBoltRequest(
            body=body.decode("utf-8"),
            query=request.query_string,
            headers={k: [v] for k, v in headers.items()},
        )
        response = await bolt.async_dispatch(bolt_request)
        return web.Response(
            status=response.status,
            body=response.body.encode("utf-8") if response.body else b"",
            headers={
                k: v for k, v in response.first_headers_without_set_cookie().items() if k.lower() != "content-length"
            },
        )

    async def healthz(_: web.Request) -> web.StreamResponse:
        return web.json_response(await health())

    web_app = web.Application(client_max_size=MAX_BODY_BYTES)
    web_app.router.add_post("/slack/events", slack_events)
    web_app.router.add_get("/healthz", healthz)
    web_app.add_routes(extra_routes or [])
    return web_app
