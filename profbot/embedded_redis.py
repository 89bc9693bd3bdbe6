"""profbot's own Redis, when ``REDIS_URL`` is not set: Debian's ``redis-server`` as a child process.

It listens on a unix socket in the state directory (``PROFBOT_STATE_DIR``, default
``~/.local/state/profbot``; no TCP port), keeps an append-only file there so pending requests and
the audit survive a restart, and is shared: the first profbot process that needs it starts it, the
others on the machine find it on its socket, and the one that started it stops it cleanly (a
``SHUTDOWN``, which writes the append-only file) when it exits. A lock file makes the start-or-share
decision once across processes starting together.

Why a child ``redis-server`` and not a Python package that embeds one: the tests and the runbook's
hosts already install Debian's redis-server, and it is the same server production runs against;
the embedding packages build Redis from source at install time.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from profbot.errors import RedisUnavailable
from profbot.redis_access import REDIS_DOWN

log = structlog.get_logger("profbot.redis")

START_SECONDS = 15.0
STOP_SECONDS = 10.0


def redis_server() -> str | None:
    return shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.path.exists(p)), None
    )


class EmbeddedRedis:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.socket = state_dir / "redis.sock"
        self.url = f"unix://{self.socket}?db=0"
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def owned(self) -> bool:
        """Whether this process started it (and stops it)."""
        return self._proc is not None

    async def answers(self) -> bool:
        client = self._client()
        try:
            return bool(await client.ping())
        except REDIS_DOWN:
            return False
        finally:
            await client.aclose()

    async def start(self) -> str:
        """Its URL: the running one's, or one started now."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.dir / "redis.lock").open("w") as lock:
            await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
            try:
                if await self.answers():
                    log.info("embedded_redis_shared", socket=str(self.socket))
                    return self.url
                await self._spawn()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return self.url

    async def _spawn(self) -> None:
        binary = redis_server()
        if binary is None:
            raise RedisUnavailable(
                "no redis-server to start for profbot's own Redis: install it (apt-get install redis-server) "
                "or set REDIS_URL to a Redis of yours"
            )
        self.socket.unlink(missing_ok=True)  # left by a server that died
        log_file = self.dir / "redis.log"
        self._proc = await asyncio.create_subprocess_exec(
            binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--daemonize", "no", "--logfile", str(log_file),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches profbot, which stops it in order, not all at once
        )  # fmt: skip
        deadline = asyncio.get_running_loop().time() + START_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            if self._proc.returncode is not None:
                break
            if await self.answers():
                log.info("embedded_redis_started", socket=str(self.socket), pid=self._proc.pid)
                return
            await asyncio.sleep(0.05)
        tail = log_file.read_text(errors="replace").strip().splitlines()[-3:] if log_file.exists() else []
        await self._kill()
        raise RedisUnavailable(f"profbot's own Redis did not start in {self.dir}: {' / '.join(tail) or 'no log'}")

    async def stop(self) -> None:
        """Stop it if this process started it: SHUTDOWN writes the append-only file and exits."""
        if self._proc is None:
            return
        client = self._client()
        with contextlib.suppress(*REDIS_DOWN):
            await client.shutdown()
        with contextlib.suppress(*REDIS_DOWN):
            await client.aclose()
        try:
            await asyncio.wait_for(self._proc.wait(), STOP_SECONDS)
        except TimeoutError:
            await self._kill()
        log.info("embedded_redis_stopped", socket=str(self.socket))
        self._proc = None

    def _client(self) -> aioredis.Redis:
        # No retries: "nothing listens there" is an answer here, not a blip to wait out.
        return aioredis.Redis(
            unix_socket_path=str(self.socket), socket_connect_timeout=1, socket_timeout=5, retry=Retry(NoBackoff(), 0)
        )

    async def _kill(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()
        self._proc = None


@contextlib.asynccontextmanager
async def redis_url_for(configured: str | None, state_dir: Path) -> AsyncIterator[str]:
    """The Redis to use: ``configured`` (REDIS_URL) as it is, else profbot's own on this machine,
    started for as long as the block runs if no other profbot process had started it."""
    if configured is not None:
        yield configured
        return
    embedded = EmbeddedRedis(state_dir)
    url = await embedded.start()
    try:
        yield url
    finally:
        await embedded.stop()
