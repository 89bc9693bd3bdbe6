"""A runner's ``GET /metrics`` (profbot/metrics.py), on ``PROFBOT_RUNNER_METRICS_LISTEN`` when set:
the jobs it ran by operation and outcome, their durations, and the process' own (memory, CPU)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from profbot.errors import ConfigError
from profbot.metrics import exposition

log = structlog.get_logger("profbot.runner")


async def metrics(_: web.Request) -> web.Response:
    body, content_type = exposition()
    return web.Response(body=body, headers={"Content-Type": content_type})


@contextlib.asynccontextmanager
async def metrics_server(listen: str) -> AsyncIterator[None]:
    """Serve ``GET /metrics`` on ``listen`` (HOST:PORT, checked by the settings) while inside."""
    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    host, _, port = listen.rpartition(":")
    try:
        await web.TCPSite(runner, host.strip("[]"), int(port)).start()
    except OSError as exc:
        await runner.cleanup()
        reason = exc.strerror or str(exc)
        raise ConfigError(f"PROFBOT_RUNNER_METRICS_LISTEN={listen}: cannot listen there ({reason})") from None
    log.info("metrics_serving", listen=listen)
    try:
        yield
    finally:
        await runner.cleanup()
