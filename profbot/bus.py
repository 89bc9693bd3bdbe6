"""The job bus between the bot and the runners, over Redis (key names: profbot/keys.py).

The bot submits a :class:`Job` to a host's stream and waits for its :class:`JobResult`; a runner
(runner/worker.py) runs it at most once and answers. :class:`JobBus` is the bot's side;
:class:`Bus` is what the runbook and the use cases need of it, so their tests can hand them a fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis
import structlog

from profbot import retry
from profbot.clock import RedisClock
from profbot.errors import JobTimeout, NoRunner, OutcomeUnknown, RedisUnavailable, operation_error_from_code
from profbot.jobs import (
    Job,
    JobResult,
    JobStatus,
    RunnerInfo,
    VolumeSample,
)
from profbot.keys import Keys
from profbot.metrics import JOB_SECONDS, JOBS
from profbot.ops import Operation, OpResult
from profbot.redis_access import REDIS_DOWN, redis_errors

log = structlog.get_logger("profbot.bus")

STREAM_MAXLEN = 10_000  # approximate cap per host stream; jobs are tiny and short-lived
RESULT_GRACE_SECONDS = 3.0
RUNNER_FORGOTTEN_SECONDS = 7 * 24 * 3600  # a runner not seen for a week is dropped from the list
R = TypeVar("R", bound=OpResult)


class Bus(Protocol):
    """What the runbook and the use cases ask of the job bus."""

    async def call(
        self,
        host: str,
        operation: Operation[R],
        *,
        timeout: float | None = None,
        requested_by: str | None = None,
        approval_id: str | None = None,
    ) -> R: ...

    async def runners(self) -> list[RunnerInfo]: ...

    async def alive_hosts(self, hosts: list[str]) -> set[str]: ...

    async def hosts_for(self, container: str) -> list[str]: ...

    async def ensure_runner(self, host: str) -> None: ...

    async def volume_history(self, host: str, volume: str) -> list[VolumeSample]: ...


class ResultWaiter:
    """Wakes waiters when their job's result lands.

    One pub/sub subscription serves every waiter; each waiter also re-reads its result key once a
    second, so a missed notification (or a pub/sub connection lost and rebuilt) delays an answer
    by at most that second and never loses it. Redis lost meanwhile (a Sentinel failover, a
    restart) is waited out until the deadline, re-reading the key: the runner stores its result
    once Redis is back. Still lost at the deadline: that error.
    """

    POLL_SECONDS = 1.0

    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._waiting: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._listen(), name="profbot-result-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._stop.set()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        while not self._stop.is_set():
            await retry.unless_stopped(self._subscribed, on=REDIS_DOWN, what="result_listener", stop=self._stop)

    async def _subscribed(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._keys.results_channel)
            while not self._stop.is_set():
                message = await pubsub.get_message(timeout=1.0)
                if message is not None:
                    event = self._waiting.get(str(message["data"]))
                    if event is not None:
                        event.set()
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # redis-py leaves it unannotated

    async def wait(self, job_id: str, timeout: float) -> JobResult | None:
        """The job's result, or None if none arrived within ``timeout`` seconds."""
        event = asyncio.Event()
        self._waiting[job_id] = event
        deadline = time.monotonic() + timeout
        try:
            while True:
                lost: BaseException | None = None
                try:
                    raw = await self._redis.get(self._keys.result(job_id))
                except REDIS_DOWN as exc:
                    raw, lost = None, exc
                if raw is not None:
                    return JobResult.model_validate_json(raw)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if lost is not None:
                        raise lost
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
        self.keys = Keys(prefix)
        self.waiter = ResultWaiter(redis, self.keys)
        self.clock = RedisClock(redis)  # deadlines on the runners' clock too

    async def __aenter__(self) -> JobBus:
        self.waiter.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.waiter.stop()

    async def runners(self) -> list[RunnerInfo]:
        """Every runner seen in the last week (whether it still heartbeats: :meth:`alive_hosts`).
        One gone longer is forgotten: a host retired months ago is not listed, nor kept in Redis."""
        with redis_errors():
            raw = await self.redis.hgetall(self.keys.runners)
        seen = [RunnerInfo.model_validate_json(v) for v in raw.values()]
        cutoff = await self.clock.now() - RUNNER_FORGOTTEN_SECONDS
        gone = [r.host for r in seen if r.last_seen < cutoff]
        if gone:
            with redis_errors():
                await self.redis.hdel(self.keys.runners, *gone)
            log.info("runners_forgotten", hosts=gone)
        return sorted((r for r in seen if r.last_seen >= cutoff), key=lambda r: r.host)

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
        """The volume sizes ``host``'s runner sampled, oldest first (see RunnerWorker.sample_volume)."""
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
        operation: Operation[Any],
        *,
        timeout: float,
        requested_by: str | None = None,
        approval_id: str | None = None,
    ) -> Job:
        now = await self.clock.now()
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
        operation: Operation[R],
        *,
        timeout: float | None = None,
        requested_by: str | None = None,
        approval_id: str | None = None,
    ) -> R:
        """Run ``operation`` on ``host`` within ``timeout`` (default: the operation's own time
        budget) and return its result, typed as the operation declares.

        Raises :class:`NoRunner`, :class:`RedisUnavailable`, :class:`JobTimeout` or the
        :class:`~profbot.errors.OperationError` the runner reported.
        """
        budget = operation.time_budget() if timeout is None else timeout
        try:
            await self.ensure_runner(host)
            job = await self.submit(host, operation, timeout=budget, requested_by=requested_by, approval_id=approval_id)
            dispatched = time.monotonic()
            with redis_errors():
                # The runner cuts a job off at its deadline and reports that: wait a little longer,
                # so the user hears "cut off after Ns" rather than a bare timeout.
                result = await self.waiter.wait(job.id, budget + RESULT_GRACE_SECONDS)
        except (NoRunner, RedisUnavailable) as exc:
            JOBS.labels(operation.name, "no_runner" if isinstance(exc, NoRunner) else "redis_unavailable").inc()
            raise
        JOB_SECONDS.labels(operation.name).observe(time.monotonic() - dispatched)
        JOBS.labels(operation.name, result.status.value if result is not None else "timeout").inc()
        if result is None:
            raise JobTimeout(f"runner on {host} gave no answer to {operation.name} within {budget:.0f}s")
        if result.status is JobStatus.OK and result.result is not None:
            return operation.parse_result(result.result)
        if result.status is JobStatus.EXPIRED:
            raise JobTimeout(result.error or f"{operation.name} on {host} expired before it ran")
        if result.status is JobStatus.UNKNOWN:
            raise OutcomeUnknown(result.error or f"{operation.name} on {host}: outcome unknown")
        raise operation_error_from_code(result.error_code or "", result.error or "failed")
