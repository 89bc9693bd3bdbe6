"""The job bus across a Redis Sentinel failover: the primary is killed (SIGKILL) during a stream of
jobs and during a confirmed change. Jobs flow again once the replica is promoted; nothing runs
twice; a change runs at most once and its caller hears how it went."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from profbot.bus import JobBus
from profbot.errors import NotApproved, ProfbotError, Unconfirmed
from profbot.jobs import JobStatus
from tests.faults.sentinel.conftest import HOST, StartRunner, until
from tests.rig.approvals import approved
from tests.rig.bus_test_ops import Change, Done, Work
from tests.rig.sentinel_rig import SentinelRig

# What a job may be answered while Redis fails over: never a wrong result.
OUTAGE_ANSWERS = {"RedisUnavailable", "JobTimeout", "OutcomeUnknown"}


def runs(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


async def test_jobs_flow_again_after_the_primary_dies_and_none_runs_twice(
    sentinel: SentinelRig, bus: JobBus, start_bus_runner: StartRunner, tmp_path: Path
) -> None:
    start_bus_runner()
    answers: dict[int, str] = {}
    jobs: list[asyncio.Task[None]] = []

    async def job(i: int) -> None:
        try:
            result = await bus.call(HOST, Work(log=str(tmp_path / f"job-{i}"), seconds=0.3), timeout=20)
            answers[i] = "ok" if result == Done(runs=1) else f"wrong result {result}"
        except ProfbotError as exc:
            answers[i] = type(exc).__name__

    stop = asyncio.Event()

    async def stream() -> None:
        while not stop.is_set():
            jobs.append(asyncio.create_task(job(len(jobs))))
            await asyncio.sleep(0.1)  # the stream's pace (ten jobs a second), not a wait for anything

    def ok_from(first: int) -> int:
        return sum(answers.get(i) == "ok" for i in range(first, len(jobs)))

    producer = asyncio.create_task(stream())
    await until("5 jobs answered before the failover", lambda: ok_from(0) >= 5, 20)
    old = await asyncio.to_thread(sentinel.kill_primary)
    in_flight = [i for i in range(len(jobs)) if i not in answers]
    await asyncio.to_thread(sentinel.wait_for_failover, old)
    after = len(jobs)
    await until("10 jobs submitted after the failover answered", lambda: ok_from(after) >= 10, 30)
    stop.set()
    await producer
    await asyncio.wait_for(asyncio.gather(*jobs), 60)

    assert in_flight, "the primary died with no job in flight"
    assert set(answers.values()) <= {"ok", *OUTAGE_ANSWERS}, answers
    times = {i: runs(tmp_path / f"job-{i}") for i in range(len(jobs))}
    assert max(times.values()) == 1, {i: n for i, n in times.items() if n > 1}  # none ran twice
    assert all(times[i] == 1 for i, answer in answers.items() if answer == "ok")


async def test_a_job_running_when_the_primary_dies_is_answered_with_its_result(
    sentinel: SentinelRig, bus: JobBus, start_bus_runner: StartRunner, tmp_path: Path
) -> None:
    start_bus_runner()
    log = tmp_path / "log"
    waiting = asyncio.create_task(bus.call(HOST, Work(log=str(log), seconds=2), timeout=30))
    await until("the job started", lambda: runs(log) == 1, 20)
    old = await asyncio.to_thread(sentinel.kill_primary)
    await asyncio.to_thread(sentinel.wait_for_failover, old)
    # The bot waited Redis out, and the runner stored its result on the new primary.
    assert await asyncio.wait_for(waiting, 40) == Done(runs=1)
    assert runs(log) == 1


async def test_a_change_running_when_the_primary_dies_runs_once_and_its_outcome_comes_back(
    sentinel: SentinelRig, bus: JobBus, start_bus_runner: StartRunner, tmp_path: Path
) -> None:
    start_bus_runner()
    log = tmp_path / "log"
    change = Change(log=str(log), seconds=2)
    approval = await approved(bus, HOST, change)
    waiting = asyncio.create_task(bus.call(HOST, change, timeout=30, approval_id=approval))
    await until("the change started", lambda: runs(log) == 1, 20)
    old = await asyncio.to_thread(sentinel.kill_primary)
    await asyncio.to_thread(sentinel.wait_for_failover, old)
    assert await asyncio.wait_for(waiting, 40) == Done(runs=1)
    # Its step claim was on the replica before it ran: the new primary refuses to run it again.
    with pytest.raises(NotApproved, match="already ran; it is not run twice"):
        await bus.call(HOST, change, timeout=20, approval_id=approval)
    assert runs(log) == 1


async def test_a_change_sent_just_before_the_primary_dies_runs_at_most_once_and_is_answered(
    sentinel: SentinelRig, bus: JobBus, start_bus_runner: StartRunner, tmp_path: Path
) -> None:
    start_bus_runner()
    log = tmp_path / "log"
    change = Change(log=str(log))
    job = await bus.submit(HOST, change, timeout=30, approval_id=await approved(bus, HOST, change))
    old = await asyncio.to_thread(sentinel.kill_primary)
    await asyncio.to_thread(sentinel.wait_for_failover, old)
    await asyncio.to_thread(sentinel.restart, old)  # back as the new primary's replica: WAIT can succeed
    result = await bus.waiter.wait(job.id, 40)
    # However the kill fell (before the runner read the job, during its step claim, after it ran),
    # the change ran at most once, and the answer says which.
    if result is None:  # the job itself was lost with the old primary: it never ran
        assert runs(log) == 0
    elif result.status is JobStatus.OK:
        assert result.result == {"runs": 1}
        assert runs(log) == 1
    elif result.status is JobStatus.EXPIRED:  # the failover outlasted its deadline (a loaded machine)
        assert runs(log) == 0
    else:
        assert result.error_code in {Unconfirmed.code, "outcome_unknown"}, result
        assert runs(log) == 0


async def test_a_step_claim_no_replica_confirms_is_not_run(
    sentinel: SentinelRig, bus: JobBus, start_bus_runner: StartRunner, tmp_path: Path
) -> None:
    start_bus_runner()
    log = tmp_path / "log"
    [replica] = [node for node in sentinel.nodes if node is not sentinel.primary()]
    assert replica.proc is not None
    os.kill(replica.proc.pid, signal.SIGSTOP)  # it holds nothing new until it is let go
    try:
        change = Change(log=str(log))
        with pytest.raises(Unconfirmed, match="no Redis replica confirmed this step's claim"):
            await bus.call(HOST, change, timeout=20, approval_id=await approved(bus, HOST, change))
    finally:
        os.kill(replica.proc.pid, signal.SIGCONT)
    assert runs(log) == 0
    await asyncio.to_thread(sentinel.wait_for_replicas)
    change = Change(log=str(log), seconds=0.01)  # a new request for the same change runs, once
    assert await bus.call(HOST, change, timeout=20, approval_id=await approved(bus, HOST, change)) == Done(runs=1)


async def test_a_job_delivered_again_while_it_runs_is_left_to_the_run_under_way(
    bus: JobBus, start_bus_runner: StartRunner, tmp_path: Path
) -> None:
    # What a failover does when the old primary had not passed the delivery on: the same entry
    # comes again; a duplicate entry for the same job does the same.
    start_bus_runner()
    log = tmp_path / "log"
    job = await bus.submit(HOST, Work(log=str(log), seconds=1.5), timeout=20)
    await until("the job started", lambda: runs(log) == 1, 20)
    await bus.redis.xadd(bus.keys.jobs(HOST), {"job": job.model_dump_json()})
    result = await bus.waiter.wait(job.id, 20)
    assert result is not None and result.status is JobStatus.OK, result
    assert runs(log) == 1
