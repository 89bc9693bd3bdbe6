"""Push latency on the rig: a real runner pushes the canary to the Pyroscope stand-in from the host
and queries it back; the stand-in's lagging-ingester knob (/tmp/ingest-delay) puts it over the
runbook's 5 s alert. The delay is a lower bound of what is measured, so nothing here races a clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import handlers
from handlers.baselines import BaselineParams
from handlers.context import ProcedureContext
from handlers.findings import Finding, Report, Severity
from handlers.health import HealthParams
from profbot.bus import JobBus
from profbot.ops.pyroscope import MeasurePushLatency, PushLatency
from tests.integration.conftest import HOST, Call
from tests.rig.podman_rig import PodmanRig


@pytest.fixture
def lagging_ingester(podman_rig: PodmanRig) -> Iterator[Any]:
    """Make the stand-in show pushed samples only after some seconds; back to immediate afterwards."""
    podman_rig.ensure_pyroscope_healthy()

    def lag(seconds: float) -> None:
        podman_rig.podman("exec", "pyroscope", "sh", "-c", f"echo {seconds} > /tmp/ingest-delay")

    yield lag
    podman_rig.podman("exec", "pyroscope", "rm", "-f", "/tmp/ingest-delay", check=False)


async def run(job_bus: JobBus, procedure_id: str, params: Any) -> Report:
    procedure = handlers.RUNBOOK.get(procedure_id)
    assert procedure is not None
    return await procedure(ProcedureContext(job_bus, HOST, timeout=30), params)


def push_finding(report: Report) -> Finding:
    return next(f for f in report.findings if f.check == "profile push latency")


async def test_the_canary_is_pushed_from_the_host_and_queried_back(call: Call, podman_rig: PodmanRig) -> None:
    podman_rig.ensure_pyroscope_healthy()
    measured = await call(MeasurePushLatency())
    assert isinstance(measured, PushLatency)
    assert measured.pushed and measured.visible and measured.error is None
    assert measured.latency_ms is not None and measured.push_ms is not None
    assert 0 < measured.push_ms <= measured.latency_ms
    assert measured.url == f"http://127.0.0.1:{podman_rig.pyroscope_port}/ingest"
    # It landed as the canary's own service, nobody else's.
    logs = podman_rig.podman("logs", "pyroscope")
    assert "POST /ingest?name=profbot-canary.cpu" in logs.stdout + logs.stderr


async def test_a_lagging_ingester_is_measured_over_the_alert_threshold(
    call: Call, job_bus: JobBus, lagging_ingester: Any
) -> None:
    lagging_ingester(6)
    measured = await call(MeasurePushLatency(within=20), timeout=30)
    assert measured.visible and measured.latency_ms is not None and measured.latency_ms >= 6000

    baselines = push_finding(await run(job_bus, "BASELINES", BaselineParams()))
    assert baselines.severity is Severity.CRITICAL
    assert " · expected < 1 s · alert > 5 s (the push itself " in baselines.detail
    health = push_finding(await run(job_bus, "HEALTH", HealthParams()))
    assert health.severity is Severity.CRITICAL


async def test_a_push_that_never_shows_is_critical_and_says_how_long_it_looked(
    call: Call, job_bus: JobBus, lagging_ingester: Any
) -> None:
    lagging_ingester(60)
    measured = await call(MeasurePushLatency(within=2))
    assert measured.pushed and not measured.visible and measured.latency_ms is None
    health = push_finding(await run(job_bus, "HEALTH", HealthParams()))
    assert health.severity is Severity.CRITICAL
    assert health.detail == "a canary push was accepted but not visible within 10 s (alert > 5 s)"
