"""The job bus between the bot and the runners, over Redis.

Layout under the prefix ``P`` (one prefix per deployment, so several can share a Redis):

- ``P:jobs:HOST``          a stream per host; consumer group ``runners``. Jobs queued while the
                           host's runner is down wait there and are read when it comes back.
- ``P:job:ID:claim``       set once (NX) by the runner that starts job ID: a job runs at most once.
- ``P:result:ID``          the job's :class:`JobResult` (JSON), kept for a day.
- ``P:results``            pub/sub channel announcing finished job ids, so waiters wake at once.
- ``P:runners``            hash HOST -> :class:`RunnerInfo` (JSON), the registry of every runner seen.
- ``P:runner:HOST:alive``  heartbeat key with a TTL; gone means the runner stopped heartbeating.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

import redis.asyncio as aioredis
import structlog
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError

from profbot.errors import (
    JobTimeout,
    NoRunner,
    OutcomeUnknown,
    RedisUnavailable,
    operation_error_from_code,
)
from profbot.ops import Operation, OpResult
from profbot.settings import without_password

log = structlog.get_logger("profbot.bus")

CONSUMER_GROUP = "runners"
STREAM_MAXLEN = 10_000  # approximate cap per host stream; jobs are tiny and short-lived
RESULT_TTL_SECONDS = 24 * 3600
CLAIM_TTL_SECONDS = 7 * 24 * 3600
RESULT_GRACE_SECONDS = 3.0


HISTORY_SAMPLES = 2000  # per host and volume: two weeks at one sample every ten minutes


class VolumeSample(BaseModel):
    at: float
    size_bytes: int


class BusKeys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.results_channel = f"{prefix}:results"
        self.runners = f"{prefix}:runners"

    def jobs(self, host: str) -> str:
        return f"{self.prefix}:jobs:{host}"

    def claim(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}:claim"

    def result(self, job_id: str) -> str:
        return f"{self.prefix}:result:{job_id}"

    def alive(self, host: str) -> str:
        return f"{self.prefix}:runner:{host}:alive"

    def volume_history(self, host: str, volume: str) -> str:
        return f"{self.prefix}:history:{host}:volume:{volume}"


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    host: str
    op: str
    params: dict[str, Any]
    submitted_at: float
    deadline: float  # epoch seconds; a runner never starts a job past it
    requested_by: str | None = None
    approval_id: str | None = None


class JobStatus(StrEnum):
    OK = "ok"
    ERROR = "error"  # the operation raised; error_code says which OperationError
    EXPIRED = "expired"  # the deadline passed before the runner could start it
    UNKNOWN = "unknown"  # the runner stopped while the job was running; it was not re-run


class JobResult(BaseModel):
    job_id: str
    host: str
    op: str
    status: JobStatus
    result: dict[str, Any] | None = None
    error_code: str | None = None
    error: str | None = None
    started_at: float | None = None
    finished_at: float


class RunnerInfo(BaseModel):
    host: str
    version: str
    pid: int
    started_at: float
    last_seen: float
    podman_version: str | None = None
    podman_api_version: str | None = None
    podman_error: str | None = None
    pyroscope_url: str
    containers: list[str] = []  # container names on this host, for routing jobs to it

    @property
    def last_seen_at(self) -> datetime:
        return datetime.fromtimestamp(self.last_seen, UTC)


def connect(url: str) -> aioredis.Redis:
    """A Redis client with bounded timeouts: a lost server becomes an error, never a hang."""
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        health_check_interval=15,
        decode_responses=True,
    )


async def connect_checked(url: str) -> aioredis.Redis:
    """A client that has answered a PING, or one clear RedisUnavailable (no password in it)."""
    redis = connect(url)
    try:
        await redis.ping()
    except (RedisError, OSError) as exc:
        await redis.aclose()
        raise RedisUnavailable(f"cannot reach Redis at {without_password(url)}: {exc}") from None
    return redis


@contextlib.contextmanager
def redis_errors() -> Iterator[None]:
    """Any Redis or socket failure inside becomes RedisUnavailable, which callers answer users with."""
    try:
        yield
    except (RedisError, OSError) as exc:
        raise RedisUnavailable(f"Redis unavailable: {exc}") from exc


R = TypeVar("R", bound=OpResult)


class ResultWaiter:
    """Wakes waiters when their job's result lands.

    One pub/sub subscription serves every waiter; each waiter also re-reads its result key once a
    second, so a missed notification (or a pub/sub connection lost and rebuilt) delays an answer
    by at most that second and never loses it.
    """

    POLL_SECONDS = 1.0

    def __init__(self, redis: aioredis.Redis, keys: BusKeys) -> None:
        self._redis = redis
        self._keys = keys
        self._waiting: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="profbot-result-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        backoff = 0.2
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._keys.results_channel)
                backoff = 0.2
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        event = self._waiting.get(str(message["data"]))
                        if event is not None:
                            event.set()
            except (RedisError, OSError) as exc:
                log.warning("result_listener_lost", error=str(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated

    async def wait(self, job_id: str, timeout: float) -> JobResult | None:
        """The job's result, or None if none arrived within ``timeout`` seconds."""
        event = asyncio.Event()
        self._waiting[job_id] = event
        deadline = time.monotonic() + timeout
        try:
            while True:
                raw = await self._redis.get(self._keys.result(job_id))
                if raw is not None:
                    return JobResult.model_validate_json(raw)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), min(remaining, self.POLL_SECONDS))
                event.clear()
        finally:
            self._waiting.pop(job_id, None)


class JobBus:
    """The bot's side of the bus: submit a job to a host's runner and wait for its result."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.keys = BusKeys(prefix)
        self.waiter = ResultWaiter(redis, self.keys)

    async def runners(self) -> list[RunnerInfo]:
        """Every runner ever registered, with ``alive`` decided by its heartbeat key."""
        with redis_errors():
            raw = await self.redis.hgetall(self.keys.runners)
        return sorted((RunnerInfo.model_validate_json(v) for v in raw.values()), key=lambda r: r.host)

    async def alive_hosts(self, hosts: list[str]) -> set[str]:
        if not hosts:
            return set()
        with redis_errors():
            flags = await self.redis.mget([self.keys.alive(h) for h in hosts])
        return {h for h, flag in zip(hosts, flags, strict=True) if flag is not None}

    async def hosts_for(self, container: str) -> list[str]:
        """Hosts whose heartbeating runner reports ``container``: where a job about it must go."""
        runners = await self.runners()
        alive = await self.alive_hosts([r.host for r in runners])
        return [r.host for r in runners if r.host in alive and container in r.containers]

    async def volume_history(self, host: str, volume: str) -> list[VolumeSample]:
        """The volume sizes ``host``'s runner sampled, oldest first (see RunnerWorker._sample)."""
        with redis_errors():
            raw = await self.redis.zrange(self.keys.volume_history(host, volume), 0, -1)
        return [VolumeSample.model_validate_json(str(item)) for item in raw]

    async def ensure_runner(self, host: str) -> None:
        """Raise :class:`NoRunner` unless ``host``'s runner heartbeats."""
        with redis_errors():
            alive, raw = await asyncio.gather(
                self.redis.exists(self.keys.alive(host)), self.redis.hget(self.keys.runners, host)
            )
        if not alive:
            info = RunnerInfo.model_validate_json(raw) if raw else None
            raise NoRunner(host, info.last_seen_at if info else None)

    async def submit(
        self,
        host: str,
        operation: Operation,
        *,
        timeout: float,
        requested_by: str | None = None,
        approval_id: str | None = None,
    ) -> Job:
        now = time.time()
        job = Job(
            host=host,
            op=operation.name,
            params=operation.model_dump(mode="json"),
            submitted_at=now,
            deadline=now + timeout,
            requested_by=requested_by,
            approval_id=approval_id,
        )
        with redis_errors():
            await self.redis.xadd(
                self.keys.jobs(host),
                {"job": job.model_dump_json()},
                maxlen=STREAM_MAXLEN,
                approximate=True,
            )
        log.info("job_submitted", job_id=job.id, host=host, op=job.op)
        return job

    async def call(
        self,
        host: str,
        operation: Operation,
        *,
        timeout: float,
        requested_by: str | None = None,
        approval_id: str | None = None,
    ) -> OpResult:
        """Run ``operation`` on ``host`` and return its typed result.

        Raises :class:`NoRunner`, :class:`RedisUnavailable`, :class:`JobTimeout` or the
        :class:`~profbot.errors.OperationError` the runner reported.
        """
        await self.ensure_runner(host)
        job = await self.submit(host, operation, timeout=timeout, requested_by=requested_by, approval_id=approval_id)
        with redis_errors():
            # The runner cuts a job off at its deadline and reports that: wait a little longer,
            # so the user hears "cut off after Ns" rather than a bare timeout.
            result = await self.waiter.wait(job.id, timeout + RESULT_GRACE_SECONDS)
        if result is None:
            raise JobTimeout(f"runner on {host} gave no answer to {operation.name} within {timeout:.0f}s")
        if result.status is JobStatus.OK and result.result is not None:
            return operation.result_type.model_validate(result.result)
        if result.status is JobStatus.EXPIRED:
            raise JobTimeout(result.error or f"{operation.name} on {host} expired before it ran")
        if result.status is JobStatus.UNKNOWN:
            raise OutcomeUnknown(result.error or f"{operation.name} on {host}: outcome unknown")
        raise operation_error_from_code(result.error_code or "", result.error or "failed")
