"""Redis with Sentinel for the failover tests: one primary, one replica and three sentinels
(Debian's ``redis-server`` and ``redis-sentinel``) on free loopback ports, never the default ones,
each in a temporary directory of its own, all killed at the end.

The sentinels call the primary down after a second of silence and fail over within five: a test
kills the primary with SIGKILL, :meth:`SentinelRig.wait_for_failover` polls the sentinels until
they name the replica as the new primary, and :meth:`SentinelRig.restart` brings the old node back
as its replica, as an operator (or systemd, with the configuration Sentinel rewrote) would.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import redis

from tests.rig.ports import free_port

MASTER = "mymaster"
T = TypeVar("T")
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


def _wait(what: str, check: Callable[[], T | None], timeout: float) -> T:
    """Poll ``check`` until it answers something true (a server not answering yet counts as no); that answer."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            answer = check()
        except (redis.RedisError, OSError) as exc:
            answer, last = None, exc
        else:
            last = answer
        if answer:
            return answer
        time.sleep(0.05)
    raise RuntimeError(f"{what}: not within {timeout}s (last seen: {last!r})")


class Node:
    """One redis-server: a primary, or a replica of ``replica_of``."""

    def __init__(self, root: Path, name: str) -> None:
        self.port = free_port()
        self.dir = root / name
        self.dir.mkdir()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, replica_of: int | None = None) -> Node:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")]  # fmt: skip
        if replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(f"redis-server on {self.port}", lambda: self.client().ping(), 10)
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=2, decode_responses=True)

    def role(self) -> str:
        return str(self.client().execute_command("ROLE")[0])

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


class SentinelProcess:
    def __init__(self, root: Path, name: str, primary: int) -> None:
        self.port = free_port()
        self.dir = root / name
        self.dir.mkdir()
        self.conf = self.dir / "sentinel.conf"  # Sentinel rewrites it: it must be its own, writable
        self.conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndaemonize no\ndir {self.dir}\nlogfile {self.dir / 'sentinel.log'}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {primary} 2\n"
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER} 1\n"
        )
        self.proc = subprocess.Popen(
            ["redis-sentinel", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=2, decode_responses=True)

    def master_state(self) -> dict[str, str]:
        raw = self.client().execute_command("SENTINEL", "MASTER", MASTER)
        if isinstance(raw, dict):
            return {str(k): str(v) for k, v in raw.items()}
        return {str(raw[i]): str(raw[i + 1]) for i in range(0, len(raw), 2)}

    def ready(self) -> bool:
        """Whether it knows the replica and both other sentinels: what a failover takes."""
        state = self.master_state()
        return state["num-slaves"] == "1" and state["num-other-sentinels"] == "2"

    def primary_port(self) -> int:
        _host, port = self.client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
        return int(port)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


class SentinelRig:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pbs-"))
        self.nodes: list[Node] = []
        self.sentinels: list[SentinelProcess] = []

    def start(self) -> SentinelRig:
        if shutil.which("redis-sentinel") is None:
            raise RuntimeError("redis-sentinel is not installed: run `make test` (it installs the system packages)")
        primary = Node(self.root, "a").start()
        self.nodes = [primary, Node(self.root, "b").start(replica_of=primary.port)]
        self.sentinels = [SentinelProcess(self.root, f"s{i}", primary.port) for i in range(3)]
        self.wait_for_replicas()
        for sentinel in self.sentinels:  # each knows the replica and both other sentinels: ready to fail over
            _wait(f"sentinel {sentinel.port} to know its peers", sentinel.ready, 30)
        return self

    @property
    def addresses(self) -> str:
        """REDIS_SENTINELS: every sentinel as HOST:PORT."""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    @property
    def url(self) -> str:
        return f"redis+sentinel://{self.addresses}/{MASTER}"

    def node(self, port: int) -> Node:
        [found] = [n for n in self.nodes if n.port == port]
        return found

    def primary(self) -> Node:
        """The node the sentinels name as primary."""
        return self.node(self.sentinels[0].primary_port())

    def client(self) -> redis.Redis:
        """A plain client of the current primary (the test's own look at what it holds)."""
        return self.primary().client()

    def kill_primary(self) -> Node:
        primary = self.primary()
        primary.kill()
        return primary

    def wait_for_failover(self, old: Node, timeout: float = 30) -> Node:
        """The new primary, once every sentinel names it and it answers as one."""

        def promoted() -> Node | None:
            ports = {s.primary_port() for s in self.sentinels}
            if len(ports) != 1 or old.port in ports:
                return None
            node = self.node(ports.pop())
            return node if node.role() == "master" else None

        return _wait("failover to the replica", promoted, timeout)

    def restart(self, node: Node) -> None:
        """Bring a killed node back as the current primary's replica (its data is gone: no persistence)."""
        node.start(replica_of=self.primary().port)

    def wait_for_replicas(self, count: int = 1, timeout: float = 30) -> None:
        """Until the primary has ``count`` replicas online (what WAIT needs)."""

        def online() -> bool:
            info = self.client().info("replication")
            replicas = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
            return sum(r.get("state") == "online" for r in replicas) >= count

        _wait(f"{count} replica(s) online", online, timeout)

    def close(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for node in self.nodes:
            node.kill()
        shutil.rmtree(self.root, ignore_errors=True)
