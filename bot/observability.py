"""``GET /healthz``, ``GET /readyz`` and ``GET /metrics`` of ``profbot serve``.

- ``/healthz``: liveness. 200 while the process serves requests, whatever Redis and Slack do.
- ``/readyz``: 200 ``{"ready": true}``; 503 ``{"ready": false, "reason": ...}`` when Redis does not
  answer a PING, or (Socket Mode) the connection to Slack is down. The reason is one of a few fixed
  sentences: these endpoints are unauthenticated, so no error text from Redis reaches them (it is
  logged).
- ``/metrics``: profbot/metrics.py in Prometheus' text format, the gauges read from Redis first
  (bot/stores/gauges.py); Redis away, the rest is still served.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
import structlog
from aiohttp import web

from bot.stores.gauges import ScrapeGauges
from profbot.metrics import exposition
from profbot.redis_access import REDIS_DOWN

log = structlog.get_logger("profbot.serve")

PROBE_SECONDS = 2.0  # a readiness probe's PING; a scrape's reads from Redis get twice that
PROBE_FAILURES: tuple[type[BaseException], ...] = (*REDIS_DOWN, TimeoutError)
REDIS_UNREACHABLE = "redis unreachable"
SLACK_DISCONNECTED = "slack socket mode disconnected"


def probe_routes(
    redis: aioredis.Redis, prefix: str, slack_connected: Callable[[], Awaitable[bool]] | None
) -> list[web.RouteDef]:
    """``slack_connected``: whether the Socket Mode connection is up (None over HTTP)."""
    gauges = ScrapeGauges(redis, prefix)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(redis.ping(), PROBE_SECONDS)
        except PROBE_FAILURES as exc:
            log.info("not_ready", reason=REDIS_UNREACHABLE, error=f"{type(exc).__name__}: {exc}")
            return web.json_response({"ready": False, "reason": REDIS_UNREACHABLE}, status=503)
        if slack_connected is not None and not await slack_connected():
            return web.json_response({"ready": False, "reason": SLACK_DISCONNECTED}, status=503)
        return web.json_response({"ready": True})

    async def metrics(_: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(gauges.refresh(), 2 * PROBE_SECONDS)
        except PROBE_FAILURES as exc:
            log.info("metrics_gauges_not_read", error=f"{type(exc).__name__}: {exc}")
        body, content_type = exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    return [web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics)]
