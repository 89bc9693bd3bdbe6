"""The runbook procedures' analysis on recorded outputs, and the freshness check against
recorded answers of a Pyroscope v1 and a v0 (httpx MockTransport, injected)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from handlers.baselines import analyse_baselines
from handlers.context import Outcome
from handlers.findings import Severity
from handlers.missing_profiles import analyse_no_data
from handlers.onboarding import analyse_onboarding
from handlers.profiling_overhead import analyse_overhead
from handlers.pyroscope_unavailable import UnavailableParams, analyse_unavailable
from handlers.storage_full import StorageParams, analyse_storage, growth_per_day
from profbot.errors import TargetNotFound
from profbot.jobs import VolumeSample
from profbot.ops.containers import (
    ContainerState,
    DiskUsage,
    EnvResult,
    FileResult,
    HttpProbe,
    LogsResult,
    PackageVersion,
    ProcessInfo,
    ProcessList,
    StatsResult,
    ToolVersion,
    VolumeInfo,
)
from profbot.ops.contract import TextOutput
from profbot.ops.pyroscope import (
    Freshness,
    PushLatency,
    PyroscopeConfig,
    ReadyResult,
    RetentionSetting,
    ServiceFreshness,
)
from runner.pyroscope import PyroscopeClient

NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)

PYROSCOPE_OOM_LOGS = [
    'level=info ts=2026-11-25T16:59:58Z caller=module_service.go:82 msg="initialising" module=ingester',
    'level=error ts=2026-11-25T16:59:59Z caller=ingester.go:211 msg="flush failed" '
    'err="write /data/head: no space left on device"',
    "fatal error: runtime: out of memory",
]  # fmt: skip


def state(**kw: object) -> ContainerState:
    base: dict[str, object] = dict(
        name="pyroscope", id="c0ffee", image="grafana/pyroscope:1.18.0", status="running", running=True, exit_code=0,
        oom_killed=False, restart_count=0, healthcheck_defined=True, health="healthy", health_failing_streak=0,
        health_last_output=None, started_at=NOW, finished_at=None,
    )  # fmt: skip
    base.update(kw)
    return ContainerState.model_validate(base)


def text(lines: list[str]) -> TextOutput:
    return TextOutput(lines=lines)


def test_unavailable_after_an_oom_kill() -> None:
    report = analyse_unavailable(
        "h1",
        UnavailableParams(),
        Outcome(value=state(status="exited", running=False, exit_code=137, oom_killed=True, finished_at=NOW)),
        Outcome(value=LogsResult(container="pyroscope", output=text(PYROSCOPE_OOM_LOGS), matched=None)),
        Outcome(value=HttpProbe(container="backend", url="http://pyroscope:4040/ready", status_code=None, body="",
                                client="python3", error="[Errno -2] Name or service not known")),
        Outcome(value=ReadyResult(url="http://localhost:4040/ready", ready=False, status_code=None, body="",
                                  latency_ms=1.0, error="ConnectError: refused")),
    )  # fmt: skip
    assert report.summary().startswith("Pyroscope is down: exited with code 137 (killed by the out-of-memory killer)")
    logs = next(f for f in report.findings if f.check == "container logs")
    assert logs.detail.startswith("2 error lines in the last 100: `level=error")
    assert "out of memory" in logs.detail
    assert [f.severity for f in report.ranked()][:3] == [Severity.CRITICAL] * 3


def test_unavailable_when_the_container_is_gone() -> None:
    report = analyse_unavailable(
        "h1", UnavailableParams(), Outcome(error=TargetNotFound("no such container")),
        Outcome(error=TargetNotFound("no such container")),
        Outcome(value=HttpProbe(container="backend", url="u", status_code=None, body="", client="python3", error="x")),
        Outcome(value=ReadyResult(url="u", ready=False, status_code=None, body="", latency_ms=1, error="refused")),
    )  # fmt: skip
    assert report.findings[0].detail == "no container named pyroscope on this host"


def procs(*cpus: float) -> ProcessList:
    return ProcessList(container="ai-yolo26", match="py-spy", processes=[
        ProcessInfo(pid=10 + i, user="root", cpu_percent=c, elapsed="1m", command="py-spy record --pid 1")
        for i, c in enumerate(cpus)])  # fmt: skip


@pytest.mark.parametrize(("cpus", "severity"), [((1.5,), Severity.OK), ((2.0, 2.0), Severity.WARNING),
                                                ((48.0,), Severity.CRITICAL)])  # fmt: skip
def test_overhead_against_the_runbook_baselines(cpus: tuple[float, ...], severity: Severity) -> None:
    report = analyse_overhead(
        "h1", "ai-yolo26", Outcome(value=procs(*cpus)),
        Outcome(value=FileResult(container="ai-yolo26", path="/tmp/profiler.log", exists=True,
                                 output=text(["Starting profiler for ai-yolo26",
                                              "Error: Permission denied (os error 13)"]))),
        Outcome(value=EnvResult(container="ai-yolo26", values={"PROFILE_INTERVAL": "10"})),
        Outcome(value=StatsResult(container="ai-yolo26", cpu_percent=60.0, online_cpus=2, memory_bytes=2**29,
                                  memory_limit_bytes=2**33, memory_percent=6.25, interval_seconds=1.0)),
    )  # fmt: skip
    overhead = next(f for f in report.findings if f.check == "profiler overhead")
    assert overhead.severity is severity
    interval = next(f for f in report.findings if f.check == "PROFILE_INTERVAL")
    assert interval.detail == "10 s: more often than the default 30 s"
    assert "Permission denied" in next(f for f in report.findings if f.check == "profiler log").detail
    raise_interval = next(r for r in report.remediations if r.action == "raise-interval")
    assert raise_interval.params == {"service": "ai-yolo26", "profile_interval": 60}
    assert raise_interval.label == "Set PROFILE_INTERVAL=60 for ai-yolo26"


def test_no_data_when_service_name_differs_from_the_service() -> None:
    report = analyse_no_data(
        "h1", "ai-yolo26",
        Outcome(value=EnvResult(container="ai-yolo26", values={"SERVICE_NAME": "ai-yolo", "PYROSCOPE_ENABLED": "true",
                                                               "PYROSCOPE_URL": "http://pyroscope:4040"})),
        Outcome(value=ProcessList(container="ai-yolo26", match="pyroscope", processes=[
            ProcessInfo(pid=6, user="root", cpu_percent=0, elapsed="1m", command="sh pyroscope-profiler.sh ai-yolo")])),
        Outcome(value=FileResult(container="ai-yolo26", path="/tmp/profiler.log", exists=True,
                                 output=text(["Starting profiler for ai-yolo"]))),
        Outcome(value=PackageVersion(container="ai-yolo26", package="pyroscope-io", installed=False, version=None,
                                     how="x")),
        Outcome(value=LogsResult(container="ai-yolo26", output=text([]), matched=0)),
        Outcome(value=Freshness(api="v1", minutes=5, seen_services=["ai-yolo"],
                                services=[ServiceFreshness(service="ai-yolo26", has_data=False, samples=0)])),
    )  # fmt: skip
    name = next(f for f in report.findings if f.check == "SERVICE_NAME")
    assert name.severity is Severity.WARNING
    assert "profiles arrive as `ai-yolo`, not `ai-yolo26`" in name.detail
    assert (
        'no "Starting profiler for ai-yolo26" line'
        in next(f for f in report.findings if f.check == "profiler log").detail
    )


def test_storage_full_on_v1_with_the_runbook_config() -> None:
    gib = 2**30
    report = analyse_storage(
        "h1", StorageParams(),
        Outcome(value=VolumeInfo(name="pyroscope_data", driver="local", mountpoint="/v", created_at=NOW, labels={},
                                 size_bytes=19 * gib, used_by=["pyroscope"])),
        Outcome(value=DiskUsage(container="pyroscope", path="/data", filesystem="/dev/vdb", size_bytes=20 * gib,
                                used_bytes=19 * gib + gib // 2, available_bytes=gib // 2, use_percent=97.5)),
        Outcome(value=PyroscopeConfig(path="/p", output=text([]), retention=RetentionSetting(
            key="retention-period", value="15d", valid_for_running_version=False, explanation="v1 refuses it"))),
        [VolumeSample(at=0, size_bytes=18 * gib), VolumeSample(at=86400, size_bytes=19 * gib)],
    )  # fmt: skip
    assert report.summary() == "Pyroscope storage is 97.5 % full (512 MB free)"
    growth = next(f for f in report.findings if f.check == "growth per day")
    assert growth.detail.startswith("1,024 MB/day")
    assert growth.severity is Severity.CRITICAL
    assert {r.action: r.kind.value for r in report.remediations} == {"reduce-retention": "change", "purge": "destroy"}


def test_growth_needs_an_hour_of_history() -> None:
    assert growth_per_day([VolumeSample(at=0, size_bytes=0), VolumeSample(at=600, size_bytes=10)]) is None
    assert growth_per_day([VolumeSample(at=0, size_bytes=0), VolumeSample(at=43200, size_bytes=50)]) == 100.0


def test_onboarding_of_an_unlabelled_service_without_py_spy() -> None:
    report = analyse_onboarding(
        "h1", "ai-clip", Outcome(value=state(name="ai-clip", labels={})),
        Outcome(value=EnvResult(container="ai-clip", values={"SERVICE_NAME": "ai-clip", "PYROSCOPE_ENABLED": None,
                                                             "PYROSCOPE_URL": None})),
        Outcome(value=ToolVersion(container="ai-clip", tool="py-spy", installed=False, version=None)),
        Outcome(value=FileResult(container="ai-clip", path="/tmp/profiler.log", exists=False, output=text([]))),
    )  # fmt: skip
    assert report.evidence[0].lines == [
        "ai-clip:", "  labels:", "    pyroscope.profile: 'true'", "    pyroscope.service: 'ai-clip'",
        "  environment:", "    - PYROSCOPE_ENABLED=${PYROSCOPE_ENABLED:-true}",
        "    - PYROSCOPE_URL=http://pyroscope:4040",
    ]  # fmt: skip
    assert report.evidence[1].title == "Add to the service's Dockerfile, then rebuild"


def test_baselines_verdicts() -> None:
    report = analyse_baselines(
        "h1",
        Outcome(value=StatsResult(container="pyroscope", cpu_percent=12.0, online_cpus=2, memory_bytes=700 * 2**20,
                                  memory_limit_bytes=2**33, memory_percent=8.5, interval_seconds=1.0)),
        {"ai-yolo26": Outcome(value=procs(2.0))}, [],
        Outcome(value=PushLatency(url="http://p/ingest", pushed=True, visible=True, latency_ms=1500, push_ms=20,
                                  within_s=10)),
    )  # fmt: skip
    by_check = {f.check: f for f in report.findings}
    assert by_check["Pyroscope CPU"].severity is Severity.CRITICAL
    assert by_check["Pyroscope memory"].severity is Severity.WARNING
    assert by_check["profiler overhead ai-yolo26"].severity is Severity.OK
    assert by_check["profile push latency"].severity is Severity.WARNING  # over 1 s, under the 5 s alert
    assert by_check["profile push latency"].detail.startswith("measured 1.50 s · expected < 1 s · alert > 5 s")


# ---------------------------------------------------------------------------- freshness, v1 and v0 answers


def v1_server(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/querier.v1.QuerierService/LabelValues":
        return httpx.Response(200, json={"names": ["ai-yolo26", "nemotron-backend"]})
    if request.url.path == "/querier.v1.QuerierService/ProfileTypes":
        types = ["process_cpu:cpu:nanoseconds:cpu:nanoseconds", "wall:wall:nanoseconds:wall:nanoseconds"]
        return httpx.Response(200, json={"profileTypes": [{"ID": t} for t in types]})
    if request.url.path == "/pyroscope/render":
        query = request.url.params["query"]
        if "{" not in query:
            return httpx.Response(400, text="invalid query")
        ticks = 1200 if 'service_name="ai-yolo26"' in query else 0
        return httpx.Response(200, json={"flamebearer": {"numTicks": ticks}})
    return httpx.Response(404)


def v0_server(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/pyroscope/render":
        ticks = 300 if request.url.params["query"] == "ai-clip" else 0
        return httpx.Response(200, content=json.dumps({"flamebearer": {"numTicks": ticks}}))
    return httpx.Response(404, text="404 page not found")


async def test_freshness_against_a_recorded_v1() -> None:
    asked: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return v1_server(request)

    client = PyroscopeClient("http://pyroscope:4040", timeout=5, transport=httpx.MockTransport(server))
    fresh = await client.freshness(["ai-yolo26", "ai-clip"], 5)
    await client.aclose()
    assert fresh.api == "v1"
    # Has-data from the window's label values, in one query; v1 counts CPU in nanoseconds, so no count.
    assert [(s.service, s.has_data, s.samples) for s in fresh.services] == [("ai-yolo26", True, None),
                                                                             ("ai-clip", False, None)]  # fmt: skip
    assert asked == ["/querier.v1.QuerierService/LabelValues"]
    assert fresh.seen_services == ["ai-yolo26", "nemotron-backend"]


async def test_freshness_against_a_recorded_v0() -> None:
    client = PyroscopeClient("http://pyroscope:4040", timeout=5, transport=httpx.MockTransport(v0_server))
    fresh = await client.freshness(["ai-clip", "ai-yolo26"], 5)
    await client.aclose()
    assert fresh.api == "v0"
    assert [(s.service, s.has_data) for s in fresh.services] == [("ai-clip", True), ("ai-yolo26", False)]
