"""Background work after an ack: owned tasks, shared in-flight checks, and turns behind the acks."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.slack.pacing import Turns
from profbot import retry
from profbot.aio import BackgroundTasks, SingleFlight


async def test_concurrent_requests_for_the_same_check_share_one_run() -> None:
    flight: SingleFlight[int] = SingleFlight()
    started = 0
    release = asyncio.Event()

    async def check() -> int:
        nonlocal started
        started += 1
        run = started
        await release.wait()
        return run

    waiters = [asyncio.create_task(flight.run(("HEALTH", "h1"), check)) for _ in range(10)]
    other = asyncio.create_task(flight.run(("HEALTH", "h2"), check))
    await asyncio.sleep(0.01)
    release.set()
    assert await asyncio.gather(*waiters) == [1] * 10  # all ten got the first run's answer
    assert await other == 2
    assert started == 2  # one per host, not one per request
    # Once finished, the next request runs a fresh check.
    assert await flight.run(("HEALTH", "h1"), check) == 3


async def test_one_requester_giving_up_does_not_cancel_the_shared_check() -> None:
    flight: SingleFlight[str] = SingleFlight()
    release = asyncio.Event()

    async def check() -> str:
        await release.wait()
        return "done"

    impatient = asyncio.create_task(flight.run("k", check))
    patient = asyncio.create_task(flight.run("k", check))
    await asyncio.sleep(0.01)
    impatient.cancel()
    release.set()
    assert await patient == "done"
    with pytest.raises(asyncio.CancelledError):
        await impatient


async def test_drain_waits_for_work_in_flight() -> None:
    tasks = BackgroundTasks()
    finished: list[str] = []

    async def work() -> None:
        await asyncio.sleep(0.1)
        finished.append("posted")

    tasks.spawn(work(), name="w")
    assert len(tasks) == 1
    await tasks.drain(timeout=5)
    assert finished == ["posted"]
    assert len(tasks) == 0


async def test_a_retry_makes_no_attempt_once_its_stop_is_set() -> None:
    stop = asyncio.Event()
    attempts = 0

    async def down() -> str:
        nonlocal attempts
        attempts += 1
        raise OSError("Redis went away")

    async def shutdown_during_the_backoff() -> None:
        await asyncio.sleep(0.05)
        stop.set()

    stopping = asyncio.create_task(shutdown_during_the_backoff())
    assert await retry.unless_stopped(down, on=(OSError,), what="t", stop=stop, initial=1.0) is retry.STOPPED
    await stopping
    assert attempts == 1  # not one more after the stop


async def test_a_retry_goes_on_until_the_call_succeeds() -> None:
    failures = iter([OSError("down"), OSError("still down")])

    async def comes_back() -> str:
        error = next(failures, None)
        if error is not None:
            raise error
        return "stored"

    assert await retry.forever(comes_back, on=(OSError,), what="t", initial=0.01, cap=0.02) == "stored"


async def test_background_work_takes_turns_one_per_pass_of_the_loop() -> None:
    """Whatever arrives between two turns (an ack) runs before the next: never two in one pass."""
    loop = asyncio.get_running_loop()
    turns = Turns()
    passes = 0
    ticking = True

    def tick() -> None:  # runs once in every pass of the loop
        nonlocal passes
        passes += 1
        if ticking:
            loop.call_soon(tick)

    loop.call_soon(tick)
    resumed: list[tuple[str, int]] = []

    async def work(name: str) -> None:
        await turns.take()
        resumed.append((name, passes))

    await asyncio.gather(*(work(f"w{i}") for i in range(5)))
    ticking = False
    assert [name for name, _ in resumed] == [f"w{i}" for i in range(5)]  # in the order they asked
    at = [seen for _, seen in resumed]
    assert all(a < b for a, b in itertools.pairwise(at)), at  # each in a pass of its own


async def test_a_cancelled_turn_is_given_to_the_next() -> None:
    turns = Turns()
    first = asyncio.create_task(turns.take())
    second = asyncio.create_task(turns.take())
    await asyncio.sleep(0)  # both are waiting
    first.cancel()
    await asyncio.wait_for(second, timeout=1)
    assert first.cancelled()
