"""``profbot runner``: wire settings, Redis, podman and Pyroscope access, and the worker."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog

from profbot.redis_access import Replication, connect_checked
from profbot.settings import RunnerSettings
from runner.compose import ComposeProject
from runner.grafana import GrafanaClient
from runner.host_policy import HostContext, HostPolicy
from runner.podman_gateway import PodmanGateway
from runner.pyroscope import PyroscopeClient, without_credentials
from runner.worker import RunnerWorker

log = structlog.get_logger("profbot.runner")


def host_policy(settings: RunnerSettings) -> HostPolicy:
    return HostPolicy(
        grafana_container=settings.grafana_container,
        grafana_provisioning_dir=settings.grafana_provisioning_dir,
        pyroscope_container=settings.pyroscope_container,
        pyroscope_volume=settings.pyroscope_volume,
        pyroscope_image=settings.pyroscope_image,
        pyroscope_config=settings.pyroscope_config,
        managed=settings.managed | {settings.pyroscope_container, settings.grafana_container},
    )


async def run_runner(settings: RunnerSettings, redis_url: str, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM or SIGINT (or until ``stop``, when the caller owns the signals)."""
    redis = await connect_checked(redis_url)
    timeout = settings.call_timeout_seconds
    compose = ComposeProject(settings.compose_file, env_file=settings.env_file) if settings.compose_file else None
    podman = PodmanGateway(settings.container_host, timeout=timeout)
    async with contextlib.AsyncExitStack() as clients:
        clients.push_async_callback(redis.aclose)
        clients.callback(podman.close)
        meter = None
        if settings.metrics_listen is not None:
            # aiohttp and prometheus-client are imported only for it: a runner without /metrics is
            # spared their memory (about 3 MB of the runner's 60).
            from runner.metrics_server import PrometheusJobMeter, metrics_server

            await clients.enter_async_context(metrics_server(settings.metrics_listen))
            meter = PrometheusJobMeter()
        ui_url = str(settings.pyroscope_ui_url) if settings.pyroscope_ui_url else None
        pyroscope = await clients.enter_async_context(
            PyroscopeClient(str(settings.pyroscope_url), timeout=timeout, ui_url=ui_url)
        )
        grafana = None
        if settings.grafana_token is not None:
            grafana = await clients.enter_async_context(
                GrafanaClient(str(settings.grafana_url), settings.grafana_token.get_secret_value(), timeout)
            )
        host = HostContext(
            podman=podman, pyroscope=pyroscope, policy=host_policy(settings), compose=compose, grafana=grafana
        )
        worker = RunnerWorker(
            redis,
            prefix=settings.redis_prefix,
            host_id=settings.host_id,
            host=host,
            pyroscope_url=str(settings.pyroscope_url),
            grafana_ui_url=without_credentials(str(settings.grafana_url)),
            concurrency=settings.concurrency,
            heartbeat_seconds=settings.heartbeat_seconds,
            sample_volumes=(settings.pyroscope_volume,),
            sample_seconds=settings.sample_seconds,
            replication=Replication.of(settings, redis_url),
            meter=meter,
        )
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)
