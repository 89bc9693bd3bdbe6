"""``POST /alerts/alertmanager`` and ``POST /alerts/grafana``: alerts in, durably, before any 2xx.

Checked in this order, nothing stored before the last step:
1. ``Authorization: Bearer $PROFBOT_ALERT_TOKEN``: missing or wrong, 401, before the body is read;
2. size and pace: a body not sent within 10 s gets 408 (bot/edge.py); one over
   ``MAX_ALERT_BODY_BYTES`` (16 MiB) is not stored and answered 503 with
   Retry-After, logged and counted as ``too_large``: a 4xx would lose it without a trace, and the
   fix is the receiver's ``max_alerts`` (deploy/alerting/alertmanager.yml);
3. Grafana only, when ``PROFBOT_GRAFANA_HMAC_SECRET`` is set: the signature header
   (``PROFBOT_GRAFANA_HMAC_HEADER``) must be the hex HMAC-SHA256 of ``timestamp:body``, the
   timestamp (Unix seconds, in ``PROFBOT_GRAFANA_HMAC_TIMESTAMP_HEADER``) within 5 minutes of
   profbot's clock, else 401: a body captured once cannot be sent again later. With the timestamp
   header setting empty, the signature covers the body alone and nothing stops a replay;
4. the payload (bot/webhooks/payloads.py): 400 with the reason. Alertmanager never resends a 4xx,
   so 4xx is only for requests that can never succeed;
5. the use case keeps it (bot/usecases/alerts.py, into the ledger): Redis unavailable is 503, which
   Alertmanager retries.
A 200 means the alert is in Redis; Slack is posted to later, by the alert threads.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from bot.edge import give_back_memory_after, read_body_within
from bot.usecases.alert_model import AlertNotification, Source
from bot.webhooks.payloads import parse_webhook
from profbot.errors import RedisUnavailable
from profbot.metrics import ALERT_WEBHOOKS

log = structlog.get_logger("profbot.alert_intake")

MAX_ALERT_BODY_BYTES = 16 * 1024 * 1024
TOO_LARGE_RETRY_SECONDS = 300  # Alertmanager retries within its group_interval; nothing is lost meanwhile

# Grafana's webhook signs with the time in Unix seconds (grafana/alerting, http/hmac.go); a
# signature older (or newer) than this is a replay, as Slack's own request signatures are.
GRAFANA_REPLAY_SECONDS = 300


@dataclass(frozen=True)
class GrafanaSignature:
    """How Grafana's contact point signs (its ``hmacConfig``): the secret and the two header names."""

    secret: str
    header: str = "X-Grafana-Alerting-Signature"
    timestamp_header: str = "X-Grafana-Alerting-Signature-Timestamp"  # "": the body alone is signed


# What a refusal counts as in profbot_alert_webhooks_total, by its status.
OUTCOMES = {
    400: "malformed",
    401: "unauthorized",
    404: "not_configured",
    408: "too_slow",
    413: "too_large",
    503: "unavailable",
}


def _refuse(status: int, reason: str, source: str, headers: dict[str, str] | None = None) -> web.Response:
    log.warning("alert_rejected", source=source, status=status, reason=reason)
    return web.json_response({"ok": False, "error": reason}, status=status, headers=headers)


def _source_of(path: str) -> Source:
    return "grafana" if path.endswith("/grafana") else "alertmanager"


def check_bearer(header: str | None, token: str) -> str | None:
    if not header:
        return "missing Authorization header (Bearer token)"
    scheme, _, given = header.partition(" ")
    # A token is ASCII: a header of other bytes (aiohttp keeps them as surrogates) is no token.
    if scheme.lower() != "bearer" or not given or not header.isascii():
        return "Authorization must be 'Bearer <token>'"
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return "invalid bearer token"
    return None


def check_grafana_hmac(
    signature: str | None,
    timestamp: str | None,
    body: bytes | bytearray,
    config: GrafanaSignature,
    now: float | None = None,
) -> str | None:
    if not signature:
        return f"missing {config.header} header"
    if not signature.isascii() or not (timestamp or "").isascii():
        return f"invalid {config.header}"
    if config.timestamp_header:
        if not timestamp:
            return f"missing {config.timestamp_header} header (hmacConfig.timestampHeader on the contact point)"
        stamp = timestamp.strip()
        if not stamp.isdigit() or len(stamp) > 12:
            return f"{config.timestamp_header} must be Unix seconds"
        skew = abs((time.time() if now is None else now) - int(stamp))
        if skew > GRAFANA_REPLAY_SECONDS:
            return (
                f"{config.timestamp_header} is {int(skew)} s from profbot's clock (more than "
                f"{GRAFANA_REPLAY_SECONDS // 60} minutes): a replay, or a clock to set right"
            )
        signed = f"{stamp}:".encode() + body
    else:
        signed = bytes(body)
    expected = hmac.new(config.secret.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
        return f"invalid {config.header}"
    return None


def alert_routes(
    receive: Callable[[AlertNotification], Awaitable[str]], token: str, signature: GrafanaSignature | None
) -> list[web.RouteDef]:
    """The two endpoints; ``receive`` keeps a notification and answers its group's id."""

    async def intake(request: web.Request, source: Source) -> web.Response:
        try:
            response = await checked(request, source)
        except web.HTTPException as exc:  # 413 too large, 408 too slow
            ALERT_WEBHOOKS.labels(source, OUTCOMES.get(exc.status, "refused")).inc()
            raise
        outcome = response.get("outcome") or (
            "accepted" if response.status == 200 else OUTCOMES.get(response.status, "refused")
        )
        ALERT_WEBHOOKS.labels(source, outcome).inc()
        return response

    async def checked(request: web.Request, source: Source) -> web.Response:
        # The token before the body: an unauthenticated sender costs no read of what it sends.
        reason = check_bearer(request.headers.get("Authorization"), token)
        if reason is not None:
            return _refuse(401, reason, source)
        body = await read_body_within(request, MAX_ALERT_BODY_BYTES)  # 408 when too slow
        if body is None:
            too_large = _refuse(
                503,
                f"body over {MAX_ALERT_BODY_BYTES // (1024 * 1024)} MiB: not stored; set max_alerts on the "
                "receiver (deploy/alerting/alertmanager.yml) so a notification stays under it",
                source,
                headers={"Retry-After": str(TOO_LARGE_RETRY_SECONDS)},
            )
            too_large["outcome"] = OUTCOMES[413]  # a 503, counted as what it is
            return too_large
        give_back_memory_after(len(body))
        if source == "grafana" and signature is not None:
            stamp = request.headers.get(signature.timestamp_header) if signature.timestamp_header else None
            reason = check_grafana_hmac(request.headers.get(signature.header), stamp, body, signature)
        if reason is not None:
            return _refuse(401, reason, source)
        notification = parse_webhook(source, body)
        if isinstance(notification, str):
            return _refuse(400, notification, source)
        try:
            gid = await receive(notification)
        except RedisUnavailable as exc:
            return _refuse(503, f"alert not stored, retry: {exc}", source)
        alerts = len(notification.alerts)
        # Debug, not info: every accepted alert is in the ledger stream and counted in
        # profbot_alert_webhooks_total; a line per webhook cost a storm more than its Redis write.
        log.debug("alert_received", source=source, group=gid, status=notification.status, alerts=alerts)
        return web.json_response({"ok": True, "group": gid, "alerts": alerts})

    async def alertmanager(request: web.Request) -> web.Response:
        return await intake(request, "alertmanager")

    async def grafana(request: web.Request) -> web.Response:
        return await intake(request, "grafana")

    return [web.post("/alerts/alertmanager", alertmanager), web.post("/alerts/grafana", grafana)]


def intake_not_configured() -> list[web.RouteDef]:
    """Without PROFBOT_ALERT_TOKEN the endpoints exist and say why they take nothing (404: final)."""

    async def refuse(request: web.Request) -> web.Response:
        ALERT_WEBHOOKS.labels(_source_of(request.path), OUTCOMES[404]).inc()
        return _refuse(404, "alert intake is not configured on this bot (PROFBOT_ALERT_TOKEN)", request.path)

    return [web.post("/alerts/alertmanager", refuse), web.post("/alerts/grafana", refuse)]
