"""Scheduled work (the change sweeper: expiring undecided requests, reaping abandoned ones) runs
on one replica of the deployment at a time, on real processes and real Redis: two `profbot serve`
replicas share one lease; killed with SIGKILL, its holder's work moves to the other within the
lease; stopped on purpose, it hands the lease over at once."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import redis

from bot.stores.scheduled import SWEEPER_LEASE_SECONDS
from tests.rig.processes import BotProcess


def holder(client: redis.Redis, prefix: str) -> str | None:
    value = client.get(f"{prefix}:schedule:change-sweeper")
    return value.decode() if isinstance(value, bytes) else value


def holder_host(client: redis.Redis, prefix: str) -> str:
    return (holder(client, prefix) or ":").rsplit(":", 1)[0]


def pid_holding(client: redis.Redis, prefix: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = holder(client, prefix)
        if found:
            return int(found.rsplit(":", 1)[1])
        time.sleep(0.1)
    raise AssertionError("no replica took the sweeper's lease")


def test_one_replica_sweeps_and_a_killed_one_hands_over_within_the_lease(
    bot_with: Callable[..., BotProcess], redis_url: str, prefix: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    first, second = bot_with(), bot_with()
    replicas = {b.proc.pid: b for b in (first, second) if b.proc is not None}
    doomed = pid_holding(client, prefix, 15)
    assert doomed in replicas
    for _ in range(10):  # renewed by its holder, never taken by the other meanwhile
        time.sleep(0.5)
        assert pid_holding(client, prefix, 1) == doomed

    replicas[doomed].stop(signal.SIGKILL)
    killed_at = time.monotonic()
    [survivor] = [pid for pid in replicas if pid != doomed]
    # The dead holder's lease lapses (its TTL), and the survivor's next sweep takes it.
    deadline = killed_at + SWEEPER_LEASE_SECONDS + 5
    while holder(client, prefix) != f"{holder_host(client, prefix)}:{survivor}" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pid_holding(client, prefix, 1) == survivor, holder(client, prefix)

    # Stopped on purpose, the holder releases it: a replica started after finds it free at once.
    replicas[survivor].stop()
    assert holder(client, prefix) is None
    newcomer = bot_with()
    assert newcomer.proc is not None and pid_holding(client, prefix, 5) == newcomer.proc.pid
