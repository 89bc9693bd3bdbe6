"""The health check's analysis, on recorded operation outputs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.baselines import analyse_push_latency
from handlers.context import Outcome
from handlers.findings import Severity
from handlers.health import analyse_container, analyse_ready, describe_exit
from profbot.errors import JobTimeout, PodmanUnavailable, TargetNotFound
from profbot.ops.containers import ContainerState
from profbot.ops.pyroscope import PushLatency, ReadyResult
from tests.unit.world import HOST, make_world


def state(**overrides: object) -> ContainerState:
    base: dict[str, object] = {
        "name": "pyroscope", "id": "abc", "image": "grafana/pyroscope:1.18.0", "status": "running",
        "running": True, "exit_code": 0, "oom_killed": False, "restart_count": 0, "healthcheck_defined": True,
        "health": "healthy", "health_failing_streak": 0, "health_last_output": None,
        "started_at": datetime(2026, 11, 25, 17, 0, tzinfo=UTC), "finished_at": None,
    }  # fmt: skip
    base.update(overrides)
    return ContainerState.model_validate(base)


def ready(**overrides: object) -> ReadyResult:
    base: dict[str, object] = {
        "url": "http://localhost:4040/ready", "ready": True, "status_code": 200, "body": "ready", "latency_ms": 3.2,
    }  # fmt: skip
    base.update(overrides)
    return ReadyResult.model_validate(base)


def test_ready_ok() -> None:
    f = analyse_ready(Outcome(value=ready()))
    assert f.severity is Severity.OK
    assert f.detail == "HTTP 200 with `ready` in 3 ms"


def test_ready_503_quotes_pyroscopes_reason() -> None:
    f = analyse_ready(Outcome(value=ready(ready=False, status_code=503, body="ingester not ready")))
    assert f.severity is Severity.CRITICAL
    assert "HTTP 503 with `ingester not ready`" in f.detail


def test_ready_no_answer_names_the_url_and_error() -> None:
    f = analyse_ready(Outcome(value=ready(ready=False, status_code=None, body="", error="ConnectError: refused")))
    assert f.severity is Severity.CRITICAL
    assert f.detail == "no answer from http://localhost:4040/ready: ConnectError: refused"


def test_ready_not_checked_when_the_bus_failed() -> None:
    f = analyse_ready(Outcome(error=JobTimeout("runner on h gave no answer")))
    assert f.severity is Severity.CRITICAL
    assert f.detail == "not checked: runner on h gave no answer"


@pytest.mark.parametrize(
    ("code", "oom", "words"),
    [(0, False, "stopped cleanly"), (137, False, "killed: likely out of memory"),
     (137, True, "out-of-memory killer"), (143, False, "SIGTERM"), (139, False, "signal 11"),
     (1, False, "the process failed")],
)  # fmt: skip
def test_exit_codes_read_as_causes(code: int, oom: bool, words: str) -> None:
    assert words in describe_exit(code, oom)
    assert f"code {code}" in describe_exit(code, oom)


def test_exited_container_is_critical_with_cause_and_time() -> None:
    f = analyse_container(
        "pyroscope",
        Outcome(value=state(status="exited", running=False, exit_code=137, restart_count=2, health=None,
                            finished_at=datetime(2026, 11, 25, 17, 5, tzinfo=UTC))),
    )  # fmt: skip
    assert f.severity is Severity.CRITICAL
    assert f.detail == "exited with code 137 (killed: likely out of memory) at 2026-11-25 17:05:00 UTC, 2 restarts"


def test_unhealthy_running_container_shows_the_check_output() -> None:
    f = analyse_container(
        "pyroscope",
        Outcome(value=state(health="unhealthy", health_failing_streak=3, health_last_output="503")),
    )
    assert f.severity is Severity.CRITICAL
    assert "but unhealthy (3 failed checks in a row): 503" in f.detail


def test_starting_healthcheck_is_a_warning() -> None:
    assert analyse_container("pyroscope", Outcome(value=state(health="starting"))).severity is Severity.WARNING


def test_running_without_healthcheck_is_ok_and_says_so() -> None:
    f = analyse_container("pyroscope", Outcome(value=state(health=None, healthcheck_defined=False)))
    assert f.severity is Severity.OK
    assert "no healthcheck defined" in f.detail


def test_missing_container_and_unreachable_podman_are_told_apart() -> None:
    missing = analyse_container("pyroscope", Outcome(error=TargetNotFound("no such container")))
    unreachable = analyse_container("pyroscope", Outcome(error=PodmanUnavailable("socket /x does not exist")))
    assert missing.detail == "no container named pyroscope on this host"
    assert unreachable.detail == "the runner cannot reach podman (socket /x does not exist)"


# ---------------------------------------------------------------------------- push latency (the canary)


def pushed(**overrides: object) -> PushLatency:
    base: dict[str, object] = {
        "url": "http://localhost:4040/ingest", "pushed": True, "visible": True, "latency_ms": 240.0,
        "push_ms": 12.0, "within_s": 10,
    }  # fmt: skip
    base.update(overrides)
    return PushLatency.model_validate(base)


@pytest.mark.parametrize(
    ("latency_ms", "severity", "measured"),
    [(240.0, Severity.OK, "0.24 s"), (1000.0, Severity.OK, "1.00 s"), (3200.0, Severity.WARNING, "3.20 s"),
     (5000.0, Severity.WARNING, "5.00 s"), (6100.0, Severity.CRITICAL, "6.10 s")],
)  # fmt: skip
def test_push_latency_against_the_runbooks_thresholds(latency_ms: float, severity: Severity, measured: str) -> None:
    f = analyse_push_latency(Outcome(value=pushed(latency_ms=latency_ms)))
    assert (f.check, f.severity) == ("profile push latency", severity)
    assert f.detail == (
        f"measured {measured} · expected < 1 s · alert > 5 s (the push itself 12 ms, canary service "
        "`profbot-canary`, pushed from this host)"
    )


def test_a_canary_not_visible_in_time_is_critical_and_says_how_long_it_looked() -> None:
    f = analyse_push_latency(Outcome(value=pushed(visible=False, latency_ms=None, error="render answered HTTP 400")))
    assert f.severity is Severity.CRITICAL
    assert f.detail == (
        "a canary push was accepted but not visible within 10 s (alert > 5 s); last answer: render answered HTTP 400"
    )


def test_a_refused_push_is_critical_and_quotes_pyroscope() -> None:
    f = analyse_push_latency(
        Outcome(value=pushed(pushed=False, visible=False, latency_ms=None, error="the push answered HTTP 500: oops"))
    )
    assert f.severity is Severity.CRITICAL
    assert f.detail.startswith("Pyroscope did not take a canary push from this host (the push answered HTTP 500")


def test_push_latency_not_measured_when_the_runner_did_not_answer() -> None:
    f = analyse_push_latency(Outcome(error=JobTimeout("runner on h gave no answer")))
    assert (f.severity, f.detail) == (Severity.WARNING, "not measured: runner on h gave no answer")


async def test_health_pushes_the_canary_only_to_a_ready_pyroscope() -> None:
    world = make_world()
    reports = await world.profbot.reads.health_reports(HOST)
    assert isinstance(reports, list)
    [report] = reports
    assert [f.check for f in report.findings] == ["Pyroscope /ready", "container pyroscope", "profile push latency"]
    assert report.findings[2].severity is Severity.OK and len(world.bus.ran("pyroscope.push_latency")) == 1

    world.stop("pyroscope")
    reports = await world.profbot.reads.health_reports(HOST)
    assert isinstance(reports, list)
    [report] = reports
    push = next(f for f in report.findings if f.check == "profile push latency")
    assert (push.severity, push.detail) == (Severity.INFO, "not measured: Pyroscope is not ready")
    assert len(world.bus.ran("pyroscope.push_latency")) == 1  # not pushed again
