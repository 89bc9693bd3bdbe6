"""profbot's own Redis, when ``REDIS_URL`` is not set: Debian's ``redis-server`` as a child process.

It listens on a unix socket in the state directory (``PROFBOT_STATE_DIR``, default
``~/.local/state/profbot``, mode 0700; no TCP port) and keeps an append-only file there, so pending
requests and the audit survive a restart. It is shared: the first profbot process that needs it
starts it, the others on the machine find it on its socket, and the last one to leave stops it
with ``SHUTDOWN`` (which writes the append-only file). Two lock files make this hold across
processes: ``redis.lock`` (exclusive, held while deciding to start one) and ``redis.users`` (shared,
held by every process using it; whoever can take it exclusively on leaving is the last).

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
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO
from urllib.parse import quote

import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from profbot.errors import ConfigError, RedisUnavailable
from profbot.redis_access import REDIS_DOWN

log = structlog.get_logger("profbot.redis")

START_SECONDS = 15.0
STOP_SECONDS = 10.0
MAX_SOCKET_PATH = 107  # bytes: AF_UNIX's sun_path, less its terminating NUL


def redis_server() -> str | None:
    return shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.path.exists(p)), None
    )


def state_dir_ready(state_dir: Path) -> Path:
    """The state directory, made private (0700: the append-only file holds the audit and every
    request) when profbot makes it; one that exists is kept as its owner set it, unless anyone at
    all, or its group, may write in it (another user could put a socket of theirs in Redis's place). A
    ConfigError naming PROFBOT_STATE_DIR otherwise."""
    try:
        if not state_dir.is_dir():
            state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        mode = state_dir.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"PROFBOT_STATE_DIR is invalid ({state_dir}: {exc.strerror})") from None
    if mode & stat.S_IWOTH:
        raise ConfigError(
            f"PROFBOT_STATE_DIR is invalid ({state_dir}: anyone may write in it; use a directory of yours)"
        )
    if mode & stat.S_IWGRP:
        raise ConfigError(
            f"PROFBOT_STATE_DIR is invalid ({state_dir}: its group may write in it; chmod g-w, or use a "
            "directory of yours)"
        )
    return state_dir


class EmbeddedRedis:
    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.socket = state_dir / "redis.sock"
        self.url = f"unix://{quote(str(self.socket))}?db=0"
        self._proc: asyncio.subprocess.Process | None = None
        self._users: IO[str] | None = None

    @property
    def owned(self) -> bool:
        """Whether this process started it."""
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
        """Its URL: the running one's, or one started now. This process counts as a user of it
        until :meth:`stop`."""
        if len(os.fsencode(self.socket)) > MAX_SOCKET_PATH:
            raise ConfigError(
                f"PROFBOT_STATE_DIR is invalid ({self.dir}: too long for a unix socket; keep it under 95 characters)"
            )
        state_dir_ready(self.dir)
        with (self.dir / "redis.lock").open("w") as lock:
            await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
            try:
                if await self._running():
                    log.info("embedded_redis_shared", socket=str(self.socket))
                else:
                    await self._spawn()
                self._users = (self.dir / "redis.users").open("w")
                fcntl.flock(self._users, fcntl.LOCK_SH)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return self.url

    async def _running(self) -> bool:
        """Whether a server is up: one that answers, or one whose pid still lives (it may be
        loading a large append-only file: wait for it rather than start a second on the same file)."""
        if await self.answers():
            return True
        pid = self._pid()
        if pid is None:
            return False
        deadline = asyncio.get_running_loop().time() + START_SECONDS
        while asyncio.get_running_loop().time() < deadline and self._alive(pid):
            if await self.answers():
                return True
            await asyncio.sleep(0.1)
        return await self.answers()

    def _pid(self) -> int | None:
        try:
            return int((self.dir / "redis.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    async def _spawn(self) -> None:
        binary = redis_server()
        if binary is None:
            raise RedisUnavailable(
                "no redis-server to start for profbot's own Redis: install it (apt-get install redis-server) "
                "or set REDIS_URL to a Redis of yours"
            )
        self.socket.unlink(missing_ok=True)  # left by a server that died: no live pid holds it
        log_file = self.dir / "redis.log"
        self._proc = await asyncio.create_subprocess_exec(
            binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
            "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--daemonize", "no", "--logfile", str(log_file), "--pidfile", str(self.dir / "redis.pid"),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            # Its own session: Ctrl-C reaches profbot, which stops it last, after what uses it.
            start_new_session=True,
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
        """Leave it; the last process to leave stops it (SHUTDOWN writes the append-only file).
        Under ``redis.lock``, as starting is: a process starting meanwhile waits until the server
        is gone and starts its own, rather than being handed one on its way down."""
        if self._users is None:
            return
        users, self._users = self._users, None
        with (self.dir / "redis.lock").open("w") as lock:
            await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
            try:
                fcntl.flock(users, fcntl.LOCK_UN)
                try:
                    fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    log.info("embedded_redis_left_running", reason="other profbot processes use it")
                    return
                await self._shut_down()
            finally:
                self._proc = None
                users.close()
                fcntl.flock(lock, fcntl.LOCK_UN)

    async def _shut_down(self) -> None:
        pid = self._pid()
        client = self._client()
        with contextlib.suppress(*REDIS_DOWN):
            await client.shutdown()
        with contextlib.suppress(*REDIS_DOWN):
            await client.aclose()
        if self._proc is not None:  # ours: wait for it, and kill it if it hangs
            try:
                await asyncio.wait_for(self._proc.wait(), STOP_SECONDS)
            except TimeoutError:
                await self._kill()
        elif pid is not None:  # started by a process gone before us: wait for it to exit
            deadline = asyncio.get_running_loop().time() + STOP_SECONDS
            while asyncio.get_running_loop().time() < deadline and self._alive(pid):  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # not our child: polling its pid is all there is
        log.info("embedded_redis_stopped", socket=str(self.socket))

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
    shared with the machine's other profbot processes for as long as the block runs."""
    if configured is not None:
        yield configured
        return
    embedded = EmbeddedRedis(state_dir)
    url = await embedded.start()
    try:
        yield url
    finally:
        await embedded.stop()
