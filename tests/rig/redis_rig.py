"""Redis for the tests: the shared server at 127.0.0.1:6379 when it answers, else our own.

Every test run works under its own key prefix and never flushes a shared server. A
:class:`PrivateRedis` is a redis-server of the test's own, for tests that stop and restart it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import redis

from tests.rig.ports import free_port

SHARED_URL = "redis://127.0.0.1:6379/0"


def shared_redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url(SHARED_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


class PrivateRedis:
    """A redis-server on a free port that a test may stop and start again."""

    def __init__(self, port: int | None = None, *, appendonly: bool = False) -> None:
        """``appendonly``: every write goes to its AOF before it is answered, so a restart (even
        after SIGKILL) comes back with everything it acknowledged."""
        self.port = port or free_port()
        self.appendonly = appendonly
        self.dir = Path(tempfile.mkdtemp(prefix="pbr-"))
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self._proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "yes" if self.appendonly else "no", "--appendfsync", "always", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def new_prefix() -> str:
    return f"profbot-test-{uuid.uuid4().hex[:10]}"


def delete_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i : i + 500])
