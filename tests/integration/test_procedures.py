"""The runbook's incident procedures on the real rig, each put into the state its incident
describes, checking the findings and the remediations offered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

import handlers
from handlers import fleet
from handlers.baselines import BaselineParams
from handlers.context import ProcedureContext
from handlers.findings import Report, Severity
from handlers.grafana_datasource import DatasourceParams
from handlers.missing_profiles import NoDataParams
from handlers.onboarding import OnboardParams
from handlers.profiling_overhead import OverheadParams
from handlers.pyroscope_unavailable import UnavailableParams
from handlers.storage_full import StorageParams
from handlers.upgrade import RollbackParams, UpgradeParams
from profbot.bus import JobBus
from profbot.errors import InvalidArgument
from profbot.ops.compose import ClearServiceImage, SetServiceImageTag
from profbot.ops.contract import OpKind
from profbot.ops.grafana import ProvisionPyroscopeDatasource
from tests.integration.conftest import HOST
from tests.rig.podman_rig import IMAGE, PodmanRig
from tests.rig.processes import RunnerProcess


async def run(job_bus: JobBus, procedure_id: str, params: Any) -> Report:
    procedure = handlers.RUNBOOK.get(procedure_id)
    assert procedure is not None
    return await procedure(ProcedureContext(job_bus, HOST, timeout=30), params)


def finding(report: Report, check: str) -> Any:
    matches = [f for f in report.findings if f.check == check]
    assert matches, f"no finding {check!r} in {[f.check for f in report.findings]}"
    return matches[0]


def offered(report: Report) -> dict[str, OpKind]:
    return {r.action: r.kind for r in report.remediations}


# ---------------------------------------------------------------------------- INC-PROF-001


async def test_unavailable_when_pyroscope_was_killed(
    job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig
) -> None:
    stack.podman("kill", "--signal", "KILL", "pyroscope")
    stack.podman("wait", "pyroscope", check=False)
    report = await run(job_bus, "INC-PROF-001", UnavailableParams())
    assert report.verdict is Severity.CRITICAL
    assert report.summary().startswith("Pyroscope is down: exited with code 137 (killed: likely out of memory)")
    assert "cannot reach pyroscope:4040" in finding(report, "backend -> pyroscope:4040").detail
    assert finding(report, "Pyroscope /ready").severity is Severity.CRITICAL
    assert offered(report) == {"restart": OpKind.CHANGE, "recreate": OpKind.CHANGE, "verify": OpKind.READ}
    assert report.evidence[0].title == "pyroscope: last 100 log lines"
    # most severe first
    assert report.ranked()[0].severity is Severity.CRITICAL


async def test_unavailable_when_running_but_not_ready(
    job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig
) -> None:
    stack.podman("exec", "pyroscope", "sh", "-c", "echo 'ingester not ready' > /tmp/unhealthy")
    report = await run(job_bus, "INC-PROF-001", UnavailableParams())
    assert report.summary() == "Pyroscope is running but not ready: /ready answers 503 `ingester not ready`"
    assert "gets HTTP 503 `ingester not ready`" in finding(report, "backend -> pyroscope:4040").detail


async def test_unavailable_on_a_healthy_stack_finds_nothing_wrong(job_bus: JobBus, ops_runner: RunnerProcess) -> None:
    report = await run(job_bus, "INC-PROF-001", UnavailableParams())
    assert report.verdict is Severity.OK, report.findings
    assert report.summary() == "Pyroscope server unavailable: nothing wrong found"


# ---------------------------------------------------------------------------- INC-PROF-002


async def test_overhead_when_the_profiler_burns_cpu(
    job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig
) -> None:
    stack.podman("exec", "ai-yolo26", "touch", "/tmp/burn")
    # py-spy's loop notices the flag on its next second; on a loaded machine (a CI run beside
    # other work) its shell loop may not have had the CPU yet when the sample is taken, or had
    # only part of it (CI once measured 4.9 %: a warning, not yet over the 5 % alert): the
    # diagnosis is asked again until it sees the burn over the alert, for at most 30 s.
    deadline = time.monotonic() + 30
    while True:
        await asyncio.sleep(3)
        report = await run(job_bus, "INC-PROF-002", OverheadParams(service="ai-yolo26"))
        overhead = finding(report, "profiler overhead")
        if overhead.severity is Severity.CRITICAL or time.monotonic() > deadline:
            break
    assert overhead.severity is Severity.CRITICAL, overhead
    assert "above the 5 % alert threshold" in overhead.detail
    assert report.summary().startswith("Profiling overhead on ai-yolo26 is")
    assert finding(report, "PROFILE_INTERVAL").detail == "30 s"
    raise_interval = next(r for r in report.remediations if r.action == "raise-interval")
    assert raise_interval.params == {"service": "ai-yolo26", "profile_interval": 60}
    assert set(offered(report)) == {"raise-interval", "disable-service", "disable-global", "flamegraph"}


async def test_overhead_of_an_idle_profiler_is_within_baseline(job_bus: JobBus, ops_runner: RunnerProcess) -> None:
    report = await run(job_bus, "INC-PROF-002", OverheadParams(service="ai-yolo26"))
    assert finding(report, "profiler overhead").severity is Severity.OK
    assert finding(report, "profiler log").detail == "no errors"


# ---------------------------------------------------------------------------- INC-PROF-003


@pytest.fixture
def unnamed_service(stack: PodmanRig) -> Iterator[str]:
    """A py-spy service whose SERVICE_NAME was forgotten (MAINT-PROF-002 half done)."""
    stack.podman(
        "run", "-d", "--name", "ai-florence", "--label", "pyroscope.profile=true",
        "--label", "pyroscope.service=ai-florence", "-e", "PYROSCOPE_ENABLED=true", IMAGE,
        "/bin/sh", "/standins/profiled_service.sh",
    )  # fmt: skip
    yield "ai-florence"
    stack.podman("rm", "-f", "-t", "0", "ai-florence")


async def test_no_data_when_service_name_is_missing(
    job_bus: JobBus, ops_runner: RunnerProcess, unnamed_service: str
) -> None:
    await asyncio.sleep(1.5)  # a heartbeat that lists the new container
    report = await run(job_bus, "INC-PROF-003", NoDataParams(service=unnamed_service))
    assert finding(report, "SERVICE_NAME").severity is Severity.CRITICAL
    assert "starts no profiler" in finding(report, "SERVICE_NAME").detail
    assert finding(report, "profiler process").detail == "no pyroscope profiler process"
    assert finding(report, "recent profiles").severity is Severity.CRITICAL
    assert "v0 syntax" in report.notes[0]
    assert offered(report) == {"restart": OpKind.CHANGE, "verify": OpKind.READ, "flamegraph": OpKind.READ}


async def test_no_data_for_the_sdk_backend_checks_the_sdk(job_bus: JobBus, ops_runner: RunnerProcess) -> None:
    report = await run(job_bus, "INC-PROF-003", NoDataParams(service="backend"))
    assert report.title == "No profiles from backend (SDK (pyroscope-io))"
    assert finding(report, "pyroscope-io").detail == "installed, 0.8.11"
    assert finding(report, "SDK initialisation").severity is Severity.OK
    assert finding(report, "recent profiles").severity is Severity.CRITICAL  # nothing ingested


async def test_no_data_when_profiling_is_switched_off(
    job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig
) -> None:
    stack.env_file.write_text("PYROSCOPE_ENABLED=false\n")
    stack.compose("up", "-d", "--force-recreate", "backend")
    time.sleep(1)
    report = await run(job_bus, "INC-PROF-003", NoDataParams(service="backend"))
    assert finding(report, "PYROSCOPE_ENABLED").detail == "`false`: profiling is off"
    assert finding(report, "SDK initialisation").severity is Severity.CRITICAL


def refused_push(stack: PodmanRig, limits: str, clock: int | None = None) -> None:
    """Set the stand-in Pyroscope's limits, have the backend's SDK push once, and wait for its
    log to say the push was refused (as pyroscope-rs logs it)."""
    stack.podman("exec", "pyroscope", "sh", "-c", f"echo '{limits}' > /tmp/limits.json")
    if clock is not None:
        stack.podman("exec", "backend", "sh", "-c", f"echo {clock} > /tmp/push-clock")
    stacks = "".join(f"main;handle_request;render_page_{i} {i + 1}\n" for i in range(40))
    stack.podman(
        "exec", "backend", "sh", "-c", f"printf '{stacks}' > /tmp/stacks.tmp && mv /tmp/stacks.tmp /tmp/stacks.folded"
    )
    deadline = time.monotonic() + 20
    while "Sending Session failed" not in stack.podman("logs", "backend").stdout:
        assert time.monotonic() < deadline, "the backend never logged the refused push"
        time.sleep(0.3)


@pytest.mark.parametrize(
    ("limits", "clock", "reason", "named"),
    [
        ('{"max_profile_size_bytes": 200}', None, "profile_size_limit", "max_profile_size_bytes = 200"),
        ('{"reject_older_than": "1h"}', 86400, "not_in_ingestion_window", "reject_older_than = 1h"),
        ('{"ingestion_rate_mb": 0.0001, "ingestion_burst_size_mb": 0.0001}', None, "rate_limited",
         "ingestion_rate_mb = 0.0001"),
    ],
)  # fmt: skip
async def test_no_data_names_the_limit_that_refused_the_sdks_pushes(
    job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig, limits: str, clock: int | None, reason: str,
    named: str,
) -> None:  # fmt: skip
    try:
        refused_push(stack, limits, clock)
        report = await run(job_bus, "INC-PROF-003", NoDataParams(service="backend"))
    finally:
        stack.podman("exec", "pyroscope", "rm", "-f", "/tmp/limits.json", check=False)
    refusal = finding(report, f"pushes refused: {reason}")
    assert refusal.severity is Severity.CRITICAL and named in refusal.detail
    assert "backend's profiler logs 1 refused pushes" in refusal.detail
    assert report.verdict is Severity.CRITICAL


async def test_no_data_says_when_pyroscope_refused_nothing(job_bus: JobBus, ops_runner: RunnerProcess) -> None:
    report = await run(job_bus, "INC-PROF-003", NoDataParams(service="backend"))
    assert finding(report, "pushes refused").detail == "none counted by Pyroscope"


# ---------------------------------------------------------------------------- INC-PROF-004


async def test_storage_when_data_is_past_95_percent(
    job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig
) -> None:
    stack.use_small_data_volume("8m")
    stack.podman("exec", "pyroscope", "dd", "if=/dev/zero", "of=/data/blocks", "bs=1024", "count=7900", check=False)
    report = await run(job_bus, "INC-PROF-004", StorageParams())
    usage = finding(report, "/data usage")
    assert usage.severity is Severity.CRITICAL
    assert report.summary().startswith("Pyroscope storage is 9")
    retention = finding(report, "retention")
    assert retention.severity is Severity.WARNING
    assert "Pyroscope v1 refuses at start-up" in retention.detail
    assert any("v0's; v1 refuses to start with it" in note for note in report.notes)
    assert offered(report) == {"reduce-retention": OpKind.CHANGE, "purge": OpKind.DESTROY}


async def test_storage_growth_per_day_from_sampled_history(
    job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig
) -> None:
    key = job_bus.keys.volume_history(HOST, "pyroscope_data")
    now = time.time()
    # Two samples a day apart, 600 MB of growth: what the runner's sampler would have recorded.
    await job_bus.redis.zadd(key, {f'{{"at":{now - 86400},"size_bytes":0}}': now - 86400})
    await job_bus.redis.zadd(key, {f'{{"at":{now},"size_bytes":{600 * 2**20}}}': now})
    report = await run(job_bus, "INC-PROF-004", StorageParams())
    growth = finding(report, "growth per day")
    assert growth.severity is Severity.CRITICAL
    assert growth.detail.startswith("600 MB/day")


# ---------------------------------------------------------------------------- MAINT-PROF-002, baselines


async def test_onboarding_check_of_a_complete_service(job_bus: JobBus, ops_runner: RunnerProcess) -> None:
    report = await run(job_bus, "MAINT-PROF-002", OnboardParams(service="ai-yolo26"))
    assert report.verdict is Severity.OK, report.findings
    assert report.summary() == "ai-yolo26 is set up for profiling"
    assert finding(report, "py-spy").detail == "installed (py-spy 0.4.0)"
    assert report.evidence == []


async def test_onboarding_check_names_the_exact_lines_to_add(
    job_bus: JobBus, ops_runner: RunnerProcess, unnamed_service: str
) -> None:
    report = await run(job_bus, "MAINT-PROF-002", OnboardParams(service=unnamed_service))
    assert report.summary() == "ai-florence: 3 things missing for profiling"
    assert finding(report, "SERVICE_NAME").severity is Severity.CRITICAL
    compose = report.evidence[0]
    assert compose.title.startswith("Add to docker-compose.prod.yml")
    assert compose.lines == [
        "ai-florence:",
        "  environment:",
        "    - SERVICE_NAME=ai-florence",
        "    - PYROSCOPE_URL=http://pyroscope:4040",
    ]


async def test_baselines_measure_every_row(job_bus: JobBus, ops_runner: RunnerProcess) -> None:
    report = await run(job_bus, "BASELINES", BaselineParams())
    checks = [f.check for f in report.findings]
    assert checks == [
        "Pyroscope CPU",
        "Pyroscope memory",
        "profiler overhead ai-yolo26",
        "profiler overhead backend",
        "storage growth per day",
        "profile push latency",
    ]
    cpu = finding(report, "Pyroscope CPU")
    assert cpu.detail.startswith("measured ")
    assert "expected < 5 % · alert > 10 %" in cpu.detail
    assert finding(report, "Pyroscope memory").severity is Severity.OK  # a small stand-in


# ---------------------------------------------------------------------------- MAINT-PROF-003


async def test_datasource_missing_then_provisioned(
    job_bus: JobBus, call: Any, ops_runner: RunnerProcess, stack: PodmanRig
) -> None:
    report = await run(job_bus, "MAINT-PROF-003", DatasourceParams())
    missing = finding(report, "Pyroscope datasource")
    assert missing.severity is Severity.CRITICAL
    assert "Grafana has 1 datasources (Prometheus), none of type pyroscope" in missing.detail
    assert offered(report) == {"provision": OpKind.CHANGE}

    result = await call(ProvisionPyroscopeDatasource(), timeout=60)
    assert result.steps[-1] == "restarted grafana (stop timeout 30s)"
    assert "type: pyroscope" in (stack.grafana_provisioning / "pyroscope.yml").read_text()
    for _ in range(50):  # Grafana reads provisioning files as it starts (its API is down meanwhile)
        report = await run(job_bus, "MAINT-PROF-003", DatasourceParams())
        if report.verdict is Severity.OK:
            break
        await asyncio.sleep(0.2)
    assert finding(report, "Pyroscope datasource").detail.startswith("`Pyroscope` -> http://pyroscope:4040")
    assert report.remediations == []


async def test_datasource_with_a_refused_token_says_so(job_bus: JobBus, start_ops_runner: Any) -> None:
    start_ops_runner(GRAFANA_TOKEN="glsa_wrong")
    report = await run(job_bus, "MAINT-PROF-003", DatasourceParams())
    api = finding(report, "Grafana API")
    assert api.severity is Severity.CRITICAL
    assert api.detail.endswith("HTTP 401: the token was refused")
    assert "glsa" not in api.detail


# ---------------------------------------------------------------------------- MAINT-PROF-001


async def test_upgrade_preflight_catches_a_config_the_target_would_refuse(
    job_bus: JobBus, ops_runner: RunnerProcess
) -> None:
    report = await run(job_bus, "MAINT-PROF-001", UpgradeParams(tag="1.19.0"))
    assert finding(report, "running version").detail == "1.18.0 -> 1.19.0"
    assert "running `localhost/profbot-standin:latest`" in finding(report, "image").detail
    refused = finding(report, "config for the target version")
    assert refused.severity is Severity.CRITICAL
    assert "Pyroscope 1.x would refuse to start with this config" in refused.detail
    assert offered(report) == {"upgrade": OpKind.CHANGE}
    assert report.remediations[0].params == {"service": "pyroscope", "tag": "1.19.0"}


async def test_pin_a_tag_then_roll_back(
    job_bus: JobBus, call: Any, ops_runner: RunnerProcess, stack: PodmanRig
) -> None:
    compose_before = stack.compose_file.read_text()
    nothing = await run(job_bus, "MAINT-PROF-001-ROLLBACK", RollbackParams())
    assert "nothing to roll back" in finding(nothing, "image").detail
    assert nothing.remediations == []

    pinned = await call(SetServiceImageTag(service="pyroscope", tag="1.19.0"))
    assert pinned.steps == [
        "pinned pyroscope to localhost/profbot-standin:1.19.0 in docker-compose.profbot.yml "
        "(was localhost/profbot-standin:latest)"
    ]
    assert stack.compose_file.read_text() == compose_before
    rollback = await run(job_bus, "MAINT-PROF-001-ROLLBACK", RollbackParams())
    assert offered(rollback) == {"rollback": OpKind.CHANGE}
    assert "rollback returns to `localhost/profbot-standin:latest`" in finding(rollback, "image").detail

    await call(ClearServiceImage(service="pyroscope"))
    with pytest.raises(InvalidArgument, match="nothing to roll back"):
        await call(ClearServiceImage(service="pyroscope"))


# ---------------------------------------------------------------------------- across the fleet


async def test_the_fleet_is_read_from_the_runner_and_ranked_by_profiler_cpu(
    job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig
) -> None:
    stack.podman("exec", "ai-yolo26", "touch", "/tmp/burn")
    for _ in range(120):  # ps's %CPU is a lifetime average: on a busy machine it takes a while to pass 5 %
        rows = stack.podman("top", "ai-yolo26", "pcpu,args").stdout.splitlines()[1:]
        if sum(float(r.split()[0]) for r in rows if "py-spy" in r) > 10:
            break
        await asyncio.sleep(0.5)
    profiled, unknown = await fleet.profiled_everywhere(job_bus, [HOST, "podhost-gone"], timeout=30)
    assert [(p.service, p.container, p.host) for p in profiled] == [("ai-yolo26", "ai-yolo26", HOST),
                                                                    ("backend", "backend", HOST)]  # fmt: skip
    [gone] = unknown
    assert gone.check == "host podhost-gone" and gone.severity is Severity.WARNING

    report = fleet.overhead_report(await fleet.overhead_everywhere(job_bus, profiled, timeout=30), unknown)
    assert [f.check for f in report.findings if f.check.endswith(HOST)] == [
        f"ai-yolo26 on {HOST}",
        f"backend on {HOST}",
    ]
    assert finding(report, f"ai-yolo26 on {HOST}").severity is Severity.CRITICAL
    assert [(r.action, r.params.get("profile_interval")) for r in report.remediations] == [
        ("raise-interval", 60), ("disable-service", None), ("disable-global", None)]  # fmt: skip
