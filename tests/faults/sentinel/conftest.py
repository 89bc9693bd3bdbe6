"""Fixtures of the Sentinel failover tests: Redis with Sentinel (tests/rig/sentinel_rig.py), the
bot's job bus on it, and runner processes that ride out a failover. Their ``prefix`` is not on the
shared Redis: each test has Redis servers of its own."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from profbot.bus import JobBus
from profbot.keys import Keys
from profbot.redis_access import connect
from tests.rig.processes import REPO
from tests.rig.redis_rig import new_prefix
from tests.rig.sentinel_rig import SentinelRig

HOST = "failover-host"


async def until(what: str, condition: Callable[[], bool], timeout: float) -> None:
    """Poll ``condition`` (cheap, local) until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.05)


@pytest.fixture
def sentinel() -> Iterator[SentinelRig]:
    rig = SentinelRig().start()
    try:
        yield rig
    finally:
        rig.close()


@pytest.fixture
def prefix() -> str:
    """A prefix of the test's own; the rig's Redis goes with the test, so nothing to delete."""
    return new_prefix()


@pytest.fixture
async def bus(sentinel: SentinelRig, prefix: str) -> AsyncIterator[JobBus]:
    """The bot's side of the job bus, reaching the primary through the sentinels."""
    client = connect(sentinel.url)
    async with JobBus(client, prefix) as job_bus:
        yield job_bus
    await client.aclose()


StartRunner = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def start_bus_runner(sentinel: SentinelRig, prefix: str, tmp_path: Path) -> Iterator[StartRunner]:
    """Runner processes serving the test operations (tests/rig/bus_test_runner.py) through the
    sentinels, waiting for ``acks`` replicas like a runner with Sentinel does by default."""
    started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(host: str = HOST, acks: int = 1) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-m", "tests.rig.bus_test_runner", sentinel.url, prefix, host, str(acks)]
        log = tmp_path / f"runner-{host}-{len(started)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(args, cwd=REPO, stderr=out, stdout=subprocess.DEVNULL)
        started.append((proc, log))
        deadline = time.monotonic() + 20
        while not sentinel.client().exists(Keys(prefix).alive(host)):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"test runner did not heartbeat (exit {proc.poll()})")
            time.sleep(0.05)
        return proc

    yield start
    for proc, log in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        print(f"---- test runner log ----\n{log.read_text(errors='replace')[-20000:]}")  # shown when a test fails
