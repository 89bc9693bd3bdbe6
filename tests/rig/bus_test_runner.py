"""A runner process serving the test operations, so a test can kill it with SIGKILL mid-job.

Usage: python -m tests.rig.bus_test_runner REDIS_URL PREFIX HOST_ID [REPLICA_ACKS]
(REDIS_URL may be a redis+sentinel:// URL; REPLICA_ACKS: replicas whose WAIT a write needs, default 0)
"""

from __future__ import annotations

import asyncio
import signal
import sys

from profbot import logs
from profbot.redis_access import Replication, connect
from runner.host_policy import HostContext
from runner.podman_gateway import PodmanGateway
from runner.pyroscope import PyroscopeClient
from runner.worker import RunnerWorker
from tests.rig.bus_test_ops import TEST_CATALOG, TEST_TABLE


async def main(redis_url: str, prefix: str, host_id: str, acks: str = "0") -> None:
    redis = connect(redis_url)
    host = HostContext(
        podman=PodmanGateway("unix:///nonexistent/podman.sock", timeout=1),
        pyroscope=PyroscopeClient("http://127.0.0.1:9", timeout=1),
    )
    worker = RunnerWorker(
        redis, prefix=prefix, host_id=host_id, host=host, pyroscope_url="http://127.0.0.1:9",
        heartbeat_seconds=0.5, catalog=TEST_CATALOG, table=TEST_TABLE, replication=Replication(int(acks)),
    )  # fmt: skip
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await worker.run(stop)


if __name__ == "__main__":
    logs.configure("info")
    asyncio.run(main(*sys.argv[1:5]))
