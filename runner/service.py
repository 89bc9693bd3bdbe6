"""``profbot runner``: wire settings, Redis, podman and Pyroscope access, and the worker."""

from __future__ import annotations

import asyncio
import signal

import structlog
from redis.exceptions import RedisError

from profbot import bus as job_bus
from profbot.errors import RedisUnavailable
from profbot.settings import RunnerSettings
from runner.operations import HostContext
from runner.podman_gateway import PodmanGateway
from runner.pyroscope import PyroscopeClient
from runner.worker import RunnerWorker

log = structlog.get_logger("profbot.runner")


async def run_runner(settings: RunnerSettings) -> None:
    redis = job_bus.connect(settings.redis_url)
    try:
        await redis.ping()
    except (RedisError, OSError) as exc:
        raise RedisUnavailable(f"cannot reach Redis at {settings.redis_url}: {exc}") from None

    podman = PodmanGateway(settings.container_host, timeout=settings.call_timeout_seconds)
    pyroscope = PyroscopeClient(str(settings.pyroscope_url), timeout=settings.call_timeout_seconds)
    worker = RunnerWorker(
        redis,
        prefix=settings.redis_prefix,
        host_id=settings.host_id,
        host=HostContext(podman=podman, pyroscope=pyroscope),
        pyroscope_url=str(settings.pyroscope_url),
        concurrency=settings.concurrency,
        heartbeat_seconds=settings.heartbeat_seconds,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await worker.run(stop)
    finally:
        await pyroscope.aclose()
        podman.close()
        await redis.aclose()
