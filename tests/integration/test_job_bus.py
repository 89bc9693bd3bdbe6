"""The job bus on a real Redis with real runner processes: delivery, at-most-once execution,
deadlines, restarts and draining."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from profbot.bus import JobBus
from profbot.errors import InvalidArgument, JobTimeout, NoRunner, OperationTimeout, OutcomeUnknown
from profbot.jobs import CONSUMER_GROUP, Job, JobStatus, RunnerInfo
from profbot.keys import Keys
from tests.rig.approvals import approved
from tests.rig.bus_test_ops import Change, Done, Work
from tests.rig.processes import REPO

HOST = "bus-host"


class BusRunnerProcess:
    def __init__(self, redis_url: str, prefix: str, host: str = HOST) -> None:
        self.args = [sys.executable, "-m", "tests.rig.bus_test_runner", redis_url, prefix, host]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> BusRunnerProcess:
        self.proc = subprocess.Popen(self.args, cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> str:
        assert self.proc is not None
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=30)
        return err.decode()


@pytest.fixture
def start_runner(redis_url: str, prefix: str) -> Iterator[object]:
    runners: list[BusRunnerProcess] = []

    async def start(host: str = HOST) -> BusRunnerProcess:
        r = BusRunnerProcess(redis_url, prefix, host).start()
        runners.append(r)
        client = aioredis.Redis.from_url(redis_url)
        for _ in range(200):
            if await client.exists(Keys(prefix).alive(host)):
                break
            await asyncio.sleep(0.05)
        await client.aclose()
        return r

    yield start
    for r in runners:
        if r.proc is not None and r.proc.poll() is None:
            r.stop(signal.SIGKILL)


def runs(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


async def test_a_job_runs_and_its_typed_result_comes_back(job_bus: JobBus, start_runner, tmp_path: Path) -> None:
    await start_runner()
    result = await job_bus.call(HOST, Work(log=str(tmp_path / "log")), timeout=10)
    assert result == Done(runs=1)


async def test_a_job_delivered_twice_runs_once(job_bus: JobBus, start_runner, tmp_path: Path) -> None:
    await start_runner()
    log = tmp_path / "log"
    change = Change(log=str(log))
    job = await job_bus.submit(HOST, change, timeout=10, approval_id=await approved(job_bus, HOST, change))
    first = await job_bus.waiter.wait(job.id, 10)
    # Slack retries and bot replicas can enqueue the same job id again.
    await job_bus.redis.xadd(job_bus.keys.jobs(HOST), {"job": job.model_dump_json()})
    await asyncio.sleep(1.0)
    second = await job_bus.waiter.wait(job.id, 10)
    assert first is not None and second is not None
    assert first.status is JobStatus.OK and second == first
    assert runs(log) == 1


async def test_runner_killed_mid_job_reports_outcome_unknown_and_never_reruns(
    job_bus: JobBus, start_runner, tmp_path: Path
) -> None:
    runner = await start_runner()
    log = tmp_path / "log"
    waiting = asyncio.create_task(job_bus.call(HOST, Work(log=str(log), seconds=30), timeout=60))
    for _ in range(200):
        if runs(log):
            break
        await asyncio.sleep(0.05)
    assert runs(log) == 1
    runner.stop(signal.SIGKILL)  # dies with the job claimed and no result
    await start_runner()  # the same host comes back and finds the job pending
    with pytest.raises(OutcomeUnknown, match="outcome unknown, not re-run"):
        await asyncio.wait_for(waiting, 15)
    assert runs(log) == 1


async def test_a_job_queued_while_the_runner_is_down_runs_when_it_returns(
    job_bus: JobBus, start_runner, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    job = await job_bus.submit(HOST, Work(log=str(log)), timeout=30)
    await asyncio.sleep(0.5)
    assert runs(log) == 0
    await start_runner()
    result = await job_bus.waiter.wait(job.id, 15)
    assert result is not None and result.status is JobStatus.OK
    assert runs(log) == 1


async def test_a_job_past_its_deadline_is_expired_not_run(job_bus: JobBus, start_runner, tmp_path: Path) -> None:
    log = tmp_path / "log"
    job = await job_bus.submit(HOST, Work(log=str(log)), timeout=0.2)
    await asyncio.sleep(0.5)
    await start_runner()
    result = await job_bus.waiter.wait(job.id, 15)
    assert result is not None and result.status is JobStatus.EXPIRED
    assert runs(log) == 0


async def test_a_hung_operation_is_cut_off_at_its_deadline(job_bus: JobBus, start_runner, tmp_path: Path) -> None:
    await start_runner()
    started = time.monotonic()
    with pytest.raises(OperationTimeout, match="cut off after"):
        await job_bus.call(HOST, Work(log=str(tmp_path / "log"), seconds=60), timeout=1.5)
    assert time.monotonic() - started < 5


async def test_a_change_cut_off_at_its_deadline_is_outcome_unknown_not_failed(
    job_bus: JobBus, start_runner, tmp_path: Path
) -> None:
    """A change's podman calls cannot be recalled once started: the user must not read "failed"."""
    await start_runner()
    change = Change(log=str(tmp_path / "log"), seconds=30)
    approval = await approved(job_bus, HOST, change)
    with pytest.raises(OutcomeUnknown, match=r"cut off after .* outcome unknown"):
        await job_bus.call(HOST, change, timeout=1, approval_id=approval)


async def test_invalid_arguments_are_refused_on_the_runner_too(job_bus: JobBus, start_runner, tmp_path: Path) -> None:
    """A job forged straight into Redis is validated again by the runner."""
    await start_runner()
    log = tmp_path / "log"
    now = time.time()
    for op, params in [("test.work", {"log": str(log), "seconds": "soon"}), ("test.work", {"log": str(log), "x": 1}),
                       ("shell.exec", {"cmd": "rm -rf /"})]:  # fmt: skip
        job = Job(host=HOST, op=op, params=params, submitted_at=now, deadline=now + 10)
        await job_bus.redis.xadd(job_bus.keys.jobs(HOST), {"job": job.model_dump_json()})
        result = await job_bus.waiter.wait(job.id, 10)
        assert result is not None and result.status is JobStatus.ERROR
        assert result.error_code == InvalidArgument.code
    assert runs(log) == 0


async def test_a_malformed_stream_entry_is_acknowledged_and_skipped(
    job_bus: JobBus, start_runner, tmp_path: Path
) -> None:
    await start_runner()
    await job_bus.redis.xadd(job_bus.keys.jobs(HOST), {"job": "{not json"})
    result = await job_bus.call(HOST, Work(log=str(tmp_path / "log")), timeout=10)
    assert result == Done(runs=1)
    # The runner publishes a result before it acknowledges the entry: give the ack its moment.
    for _ in range(100):
        pending = await job_bus.redis.xpending(job_bus.keys.jobs(HOST), CONSUMER_GROUP)
        if pending["pending"] == 0:
            break
        await asyncio.sleep(0.05)
    assert pending["pending"] == 0  # the malformed entry too: it is never redelivered


async def test_shutdown_drains_the_job_in_flight(job_bus: JobBus, start_runner, tmp_path: Path) -> None:
    runner = await start_runner()
    log = tmp_path / "log"
    job = await job_bus.submit(HOST, Work(log=str(log), seconds=1.5), timeout=30)
    for _ in range(100):
        if runs(log):
            break
        await asyncio.sleep(0.05)
    stderr = runner.stop(signal.SIGTERM)
    assert "runner_draining" in stderr
    result = await job_bus.waiter.wait(job.id, 5)
    assert result is not None and result.status is JobStatus.OK


async def test_call_without_a_runner_fails_fast(job_bus: JobBus, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(NoRunner, match="no runner registered for host nobody"):
        await job_bus.call("nobody", Work(log=str(tmp_path / "log")), timeout=10)
    assert time.monotonic() - started < 1


async def test_a_runner_that_never_answers_gives_a_timeout(job_bus: JobBus, tmp_path: Path) -> None:
    # A heartbeat with nobody reading the stream: the runner is wedged.
    await job_bus.redis.set(job_bus.keys.alive("wedged"), "1", ex=30)
    with pytest.raises(JobTimeout, match="gave no answer"):
        await job_bus.call("wedged", Work(log=str(tmp_path / "log")), timeout=1)


async def test_a_runner_gone_for_a_week_is_forgotten(job_bus: JobBus) -> None:
    bus = job_bus
    now = time.time()
    for host, seen in (("retired-host", now - 8 * 86400), ("quiet-host", now - 6 * 86400)):
        info = RunnerInfo(host=host, version="0.1.0", pid=1, started_at=seen, last_seen=seen, pyroscope_url="http://x")
        await bus.redis.hset(bus.keys.runners, host, info.model_dump_json())
    listed = [r.host for r in await bus.runners()]
    assert "retired-host" not in listed
    assert "quiet-host" in listed  # not heartbeating, but seen this week: still listed
    assert not await bus.redis.hexists(bus.keys.runners, "retired-host")  # and not kept in Redis
