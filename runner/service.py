"""``profbot runner``: wire settings, Redis, podman and Pyroscope access, and the worker."""

from __future__ import annotations

import asyncio
import signal

import structlog

from profbot import bus as job_bus
from profbot.settings import RunnerSettings
from runner.compose import ComposeProject
from runner.grafana import GrafanaClient
from runner.operations import HostContext, HostPolicy
from runner.podman_gateway import PodmanGateway
from runner.pyroscope import PyroscopeClient
from runner.worker import RunnerWorker

log = structlog.get_logger("profbot.runner")


def host_context(settings: RunnerSettings, podman: PodmanGateway, pyroscope: PyroscopeClient) -> HostContext:
    compose = None
    if settings.compose_file is not None:
        compose = ComposeProject(settings.compose_file, env_file=settings.env_file)
    grafana = None
    if settings.grafana_token is not None:
        grafana = GrafanaClient(
            str(settings.grafana_url), settings.grafana_token.get_secret_value(), settings.call_timeout_seconds
        )
    policy = HostPolicy(
        grafana_container=settings.grafana_container,
        grafana_provisioning_dir=settings.grafana_provisioning_dir,
        pyroscope_container=settings.pyroscope_container,
        pyroscope_volume=settings.pyroscope_volume,
        pyroscope_image=settings.pyroscope_image,
        pyroscope_config=settings.pyroscope_config,
        managed=settings.managed | {settings.pyroscope_container, settings.grafana_container},
    )
    return HostContext(podman=podman, pyroscope=pyroscope, policy=policy, compose=compose, grafana=grafana)


async def run_runner(settings: RunnerSettings) -> None:
    redis = await job_bus.connect_checked(settings.redis_url)

    podman = PodmanGateway(settings.container_host, timeout=settings.call_timeout_seconds)
    pyroscope = PyroscopeClient(str(settings.pyroscope_url), timeout=settings.call_timeout_seconds)
    worker = RunnerWorker(
        redis,
        prefix=settings.redis_prefix,
        host_id=settings.host_id,
        host=host_context(settings, podman, pyroscope),
        pyroscope_url=str(settings.pyroscope_url),
        concurrency=settings.concurrency,
        heartbeat_seconds=settings.heartbeat_seconds,
        sample_volumes=(settings.pyroscope_volume,),
        sample_seconds=settings.sample_seconds,
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
