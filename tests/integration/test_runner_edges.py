"""The runner against other Pyroscope versions, hung dependencies, and several hosts."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from handlers.profile_analysis import hottest_path, top_functions
from handlers.profile_units import amount
from profbot.bus import JobBus
from profbot.errors import InvalidArgument, OperationError, OperationTimeout
from profbot.ops.containers import ContainerInspect
from profbot.ops.pyroscope import (
    CPU_PROFILE_TYPE,
    GetPyroscopeConfig,
    MeasurePushLatency,
    PyroscopeFreshness,
    PyroscopeProfile,
    PyroscopeReady,
    SetPyroscopeRetention,
)
from tests.conftest import RunnerFactory
from tests.integration.conftest import HOST
from tests.rig.approvals import approved
from tests.rig.podman_rig import IMAGE, PodmanRig
from tests.rig.ports import free_port
from tests.rig.processes import RunnerProcess


@pytest.fixture
def start_runner(runner_factory: RunnerFactory) -> RunnerFactory:
    def start(host: str = HOST, **overrides: str) -> RunnerProcess:
        return runner_factory(host, **overrides)

    return start


@pytest.fixture
def pyroscope_v0(podman_rig: PodmanRig) -> Iterator[int]:
    """A second Pyroscope stand-in speaking the v0 API, on a port of its own."""
    port = free_port()
    podman_rig.podman(
        "run", "-d", "--name", "pyroscope-v0", "-p", f"127.0.0.1:{port}:4040", "-e", "PYROSCOPE_STANDIN_API=v0",
        "-e", "PYROSCOPE_STANDIN_VERSION=0.37.2", "-v", "/usr:/usr:ro", "-v", "/lib:/lib:ro", "-v", "/lib64:/lib64:ro",
        IMAGE, "/usr/bin/python3", "/standins/pyroscope_standin.py",
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    yield port
    podman_rig.podman("rm", "-f", "-t", "0", "pyroscope-v0")


async def test_freshness_on_v0_uses_the_runbooks_query(job_bus: JobBus, start_runner, pyroscope_v0: int) -> None:
    import httpx

    start_runner(PYROSCOPE_URL=f"http://127.0.0.1:{pyroscope_v0}")
    now = int(time.time())
    httpx.post(f"http://127.0.0.1:{pyroscope_v0}/ingest", params={"name": "ai-yolo26.cpu", "from": now}, content=b"x")
    fresh: Any = await job_bus.call(HOST, PyroscopeFreshness(services=["ai-yolo26", "backend"]), timeout=30)
    assert fresh.api == "v0"
    assert {s.service: s.has_data for s in fresh.services} == {"ai-yolo26": True, "backend": False}
    assert fresh.note == "Pyroscope v0: used the runbook's render query as written"


async def test_freshness_on_something_else_says_it_is_unsupported(job_bus: JobBus, start_runner) -> None:
    class NotPyroscope(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotPyroscope)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        start_runner(PYROSCOPE_URL=f"http://127.0.0.1:{server.server_address[1]}")
        fresh: Any = await job_bus.call(HOST, PyroscopeFreshness(services=["ai-yolo26"]), timeout=30)
        assert fresh.api == "unsupported"
        assert fresh.note is not None and "not one profbot knows" in fresh.note
    finally:
        server.shutdown()


async def test_retention_on_v0_uses_the_v0_key(job_bus: JobBus, start_runner, podman_rig: PodmanRig) -> None:
    compose = podman_rig.compose_file.read_text()
    podman_rig.compose_file.write_text(
        compose.replace("PYROSCOPE_STANDIN_VERSION=1.18.0", "PYROSCOPE_STANDIN_VERSION=0.37.2")
    )
    podman_rig.compose("up", "-d", "--force-recreate", "pyroscope")
    try:
        start_runner()
        config: Any = await job_bus.call(HOST, GetPyroscopeConfig(), timeout=30)
        assert config.retention.valid_for_running_version
        assert config.retention.value == "15d"
        retention = SetPyroscopeRetention(config=str(podman_rig.pyroscope_config), period="7d")
        await job_bus.call(HOST, retention, timeout=60, approval_id=await approved(job_bus, HOST, retention))
        text = podman_rig.pyroscope_config.read_text()
        assert "retention: 7d" in text
        assert "retention-period" not in text
    finally:
        podman_rig.reset_stack()


def black_hole() -> tuple[socket.socket, int]:
    """A listening socket nobody answers on: connections succeed, replies never come."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock, int(sock.getsockname()[1])


async def test_a_hung_pyroscope_is_cut_off_at_the_jobs_deadline(job_bus: JobBus, start_runner) -> None:
    sock, port = black_hole()
    try:
        start_runner(PYROSCOPE_URL=f"http://127.0.0.1:{port}", PROFBOT_CALL_TIMEOUT="60")
        started = time.monotonic()
        with pytest.raises(OperationTimeout, match=r"pyroscope\.ready cut off after"):
            await job_bus.call(HOST, PyroscopeReady(), timeout=2)
        assert time.monotonic() - started < 5
    finally:
        sock.close()


async def test_a_hung_podman_socket_is_cut_off_and_the_runner_keeps_serving(
    job_bus: JobBus, start_runner, tmp_path
) -> None:
    path = tmp_path / "hung.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.listen(64)
    try:
        start_runner(CONTAINER_HOST=f"unix://{path}", PROFBOT_CALL_TIMEOUT="60")
        with pytest.raises(OperationTimeout, match=r"container\.inspect cut off"):
            await job_bus.call(HOST, ContainerInspect(container="pyroscope"), timeout=2)
        ready: Any = await job_bus.call(HOST, PyroscopeReady(), timeout=10)  # the runner still answers
        assert ready.ready
    finally:
        sock.close()


async def test_jobs_go_to_the_host_that_runs_the_target(job_bus: JobBus, start_runner, tmp_path) -> None:
    start_runner("host-with-stack")
    start_runner("host-without-podman", CONTAINER_HOST=f"unix://{tmp_path}/none.sock")
    # Until both have sent a heartbeat (the one with podman lists its containers first; on a busy
    # machine that takes longer than a fixed sleep would allow).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if len(await job_bus.runners()) == 2 and await job_bus.hosts_for("ai-yolo26"):
            break
        await asyncio.sleep(0.2)
    assert await job_bus.hosts_for("ai-yolo26") == ["host-with-stack"]
    assert await job_bus.hosts_for("ai-florence") == []
    runners = {r.host: r for r in await job_bus.runners()}
    assert "pyroscope" in runners["host-with-stack"].containers
    assert runners["host-without-podman"].podman_error is not None


async def test_a_runner_refuses_a_retention_it_cannot_apply_for_its_version(
    job_bus: JobBus, start_runner, podman_rig: PodmanRig
) -> None:
    start_runner()
    retention = SetPyroscopeRetention(config=str(podman_rig.pyroscope_config), period="30d")
    approval = await approved(job_bus, HOST, retention)
    with pytest.raises(InvalidArgument, match=r"Pyroscope 1\.x has no retention setting without a storage bucket"):
        await job_bus.call(HOST, retention, timeout=30, approval_id=approval)


# ---------------------------------------------------------------------------- profiles


async def test_a_profile_comes_back_as_pushed_and_its_link_carries_no_credentials(
    job_bus: JobBus, start_runner, podman_rig: PodmanRig
) -> None:
    import httpx

    port = podman_rig.pyroscope_port
    service = f"flame-{free_port()}"  # a service no other test pushes for
    now = int(time.time())
    # .NET frames, as its profiler names them (spaces, brackets, a backtick), and one without symbols.
    main, work = "System.Threading.Thread.StartCallback()", "App.Worker.Work(CancellationToken token)"
    crunch, idle = "System.Collections.Generic.List`1[System.String].Add(String item)", "[unknown]"
    folded = f"{main};{work};{crunch} 70\n{main};{work} 5\n{main};{idle} 25\n"
    params: dict[str, str | int] = {"name": service, "from": now - 10, "until": now, "format": "folded"}
    pushed = httpx.post(f"http://127.0.0.1:{port}/ingest", params=params, content=folded)
    assert pushed.status_code == 200
    start_runner(PYROSCOPE_URL=f"http://ops:s3cret-pw@127.0.0.1:{port}")

    profile: Any = await job_bus.call(HOST, PyroscopeProfile(service=service, minutes=5), timeout=30)

    # v1's units: CPU in nanoseconds ("samples" at a rate of 1e9); 100 samples at 100 Hz are 1 s.
    assert profile.profile_type == CPU_PROFILE_TYPE and (profile.units, profile.sample_rate) == ("samples", 10**9)
    assert profile.num_ticks == 10**9 and amount(profile, profile.num_ticks) == "1.00 s"
    assert [(f.name, f.share) for f in top_functions(profile)] == [(crunch, 0.7), (idle, 0.25), (work, 0.05)]
    assert hottest_path(profile) == [main, work, crunch]
    assert "s3cret" not in profile.ui_url and "ops@" not in profile.ui_url
    assert profile.ui_url.startswith(f"http://127.0.0.1:{port}/?query=process_cpu")
    assert profile.end - profile.start == 300
    # Nor does its heartbeat, which /prof runners shows.
    [runner] = await job_bus.runners()
    assert "s3cret" not in runner.pyroscope_url and "ops@" not in runner.pyroscope_url
    assert runner.pyroscope_url.rstrip("/") == f"http://127.0.0.1:{port}"


async def test_a_profile_from_a_v0_server_is_refused_with_the_reason(
    job_bus: JobBus, start_runner, pyroscope_v0: int
) -> None:
    start_runner(PYROSCOPE_URL=f"http://127.0.0.1:{pyroscope_v0}")
    with pytest.raises(OperationError, match="speaks the v0 API"):
        await job_bus.call(HOST, PyroscopeProfile(service="ai-yolo26"), timeout=30)


async def test_the_push_canary_on_a_v0_server_is_queried_by_its_application_name(
    job_bus: JobBus, start_runner, pyroscope_v0: int
) -> None:
    start_runner(PYROSCOPE_URL=f"http://127.0.0.1:{pyroscope_v0}")

    measured: Any = await job_bus.call(HOST, MeasurePushLatency(within=5), timeout=30)

    assert measured.pushed and measured.visible and measured.error is None


async def test_credentials_in_pyroscope_url_never_leave_the_runner(
    start_runner: RunnerFactory, job_bus: JobBus
) -> None:
    # Nothing listens on the port: the error names the URL it could not reach, as /prof health shows.
    port = free_port()
    start_runner(
        PYROSCOPE_URL=f"http://admin:hunter2@127.0.0.1:{port}/", PYROSCOPE_UI_URL=f"http://ui:pw9@localhost:{port}"
    )
    ready = await job_bus.call(HOST, PyroscopeReady(), timeout=30)
    shown = ready.model_dump_json()
    assert f"127.0.0.1:{port}" in shown  # the address is still said, for the operator to check
    assert "hunter2" not in shown
    runners = [r for r in await job_bus.runners() if r.host == HOST]
    assert runners
    assert "hunter2" not in runners[0].model_dump_json()


FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


@pytest.mark.skipif(not os.path.exists(FAKETIME), reason="needs Debian's faketime (deploy/install-system-packages.sh)")
@pytest.mark.parametrize("skew", ["+45s", "-45s"])
async def test_a_runner_whose_clock_is_off_still_runs_jobs_within_their_deadline(
    start_runner: RunnerFactory, job_bus: JobBus, skew: str
) -> None:
    # The runner's wall clock 45 s ahead (every job would look expired) or behind (none would
    # ever time out): deadlines are read on Redis's clock, so the job runs as it should.
    port = free_port()
    start_runner(
        PYROSCOPE_URL=f"http://127.0.0.1:{port}/", LD_PRELOAD=FAKETIME, FAKETIME=skew, FAKETIME_DONT_FAKE_MONOTONIC="1"
    )
    ready = await job_bus.call(HOST, PyroscopeReady(), timeout=20)
    assert ready.ready is False  # it ran: nothing listens there
    assert ready.error
