"""A runner's ``GET /metrics`` (profbot/metrics.py), on ``PROFBOT_RUNNER_METRICS_LISTEN`` when set:
the jobs it ran by operation and outcome, their durations, and the process' own (memory, CPU)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from profbot.errors import ConfigError
from profbot.jobs import JobStatus
from profbot.metrics import RUNNER_JOB_SECONDS, RUNNER_JOBS, exposition

log = structlog.get_logger("profbot.runner")


class PrometheusJobMeter:
    """The jobs this runner ran, by operation and outcome, and their durations (runner/worker.py's
    JobMeter), counted only by a runner that serves them."""

    def ran(self, operation: str, status: JobStatus, seconds: float | None) -> None:
        RUNNER_JOBS.labels(operation, status.value).inc()
        if seconds is not None:
            RUNNER_JOB_SECONDS.labels(operation).observe(seconds)


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
