"""The runner's main loop: read jobs for this host from Redis, run each at most once, answer.

Delivery is at-least-once (a Redis stream with a consumer group); execution is at-most-once (a
claim key set with NX before anything runs). A job found already claimed but without a result
belonged to a runner that stopped mid-way: it is answered "outcome unknown", never re-run. One
delivered again while this runner still runs it (a duplicate entry, or a Redis failover that forgot
the delivery) is left to the run under way. Results wait for the replicas (``WAIT``) when there are.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError

from profbot import __version__, retry
from profbot.aio import sleep_or_stop
from profbot.approvals.store import ApprovalStore
from profbot.clock import RedisClock
from profbot.errors import (
    InvalidArgument,
    NotApproved,
    OperationError,
    OperationTimeout,
    RedisUnavailable,
    Unconfirmed,
)
from profbot.jobs import (
    CLAIM_TTL_SECONDS,
    CONSUMER_GROUP,
    HISTORY_SAMPLES,
    RESULT_TTL_SECONDS,
    Job,
    JobResult,
    JobStatus,
    RunnerInfo,
    VolumeSample,
)
from profbot.keys import Keys
from profbot.ops.contract import CATALOG, OperationCatalog, OpKind
from profbot.redis_access import REDIS_DOWN, Replication
from profbot.streams import GroupConsumer
from runner import progress
from runner.host_policy import HostContext, check_bound_target, verify_identity
from runner.operations import IMPLEMENTATIONS, OperationTable
from runner.operations.containers import tree_size
from runner.podman_facts import PodmanFacts
from runner.pyroscope import without_credentials
from runner.redaction import redact, redact_strings

log = structlog.get_logger("profbot.runner")

T = TypeVar("T")


class JobMeter(Protocol):
    """Where a runner counts the jobs it ran (runner/metrics_server.py, when it serves ``/metrics``)."""

    def ran(self, operation: str, status: JobStatus, seconds: float | None) -> None: ...


class RunnerWorker:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str,
        host_id: str,
        host: HostContext,
        pyroscope_url: str,
        grafana_ui_url: str | None = None,
        concurrency: int = 8,
        heartbeat_seconds: float = 5.0,
        drain_seconds: float = 30.0,
        sample_volumes: tuple[str, ...] = (),
        sample_seconds: float = 600.0,
        catalog: OperationCatalog = CATALOG,
        table: OperationTable = IMPLEMENTATIONS,
        replication: Replication | None = None,
        meter: JobMeter | None = None,
    ) -> None:
        self.redis = redis
        self.meter = meter  # None: nobody reads the counts, so none are kept
        self.keys = Keys(prefix)
        self.host_id = host_id
        self.host = host
        self.pyroscope_url = without_credentials(pyroscope_url)  # heartbeats are shown: /prof runners
        self.grafana_ui_url = grafana_ui_url
        self.concurrency = concurrency
        self.heartbeat_seconds = heartbeat_seconds
        self.drain_seconds = drain_seconds
        self.catalog = catalog
        self.table = table
        self.sample_volumes = sample_volumes
        self.sample_seconds = sample_seconds
        self.stream = self.keys.jobs(host_id)
        # The consumer is named after the host, not the process: a restarted runner reads what its
        # predecessor had taken and not acknowledged, and answers it (run, or "outcome unknown").
        self.jobs = GroupConsumer(redis, self.stream, CONSUMER_GROUP, start_id="0", count=1000, consumer=host_id)
        self.started_at = time.time()
        self._inflight: set[asyncio.Task[None]] = set()
        self._running: dict[str, str] = {}  # job id -> the stream entry it came in, while it runs here
        self.replication = replication or Replication()
        self.approvals = ApprovalStore(redis, prefix, self.replication)
        self.clock = RedisClock(redis)  # a job's deadline was set on Redis's clock, not this host's
        self.podman_facts = PodmanFacts(host.podman)

    # ------------------------------------------------------------------ lifecycle

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set, then drain in-flight jobs (up to ``drain_seconds``)."""
        await self.jobs.ensure_group()
        heartbeat = asyncio.create_task(self._heartbeat_loop(stop), name="profbot-heartbeat")
        sampler = asyncio.create_task(self._sample_loop(stop), name="profbot-volume-sampler")
        try:
            await self._recover_pending()
            log.info("runner_started", host=self.host_id, stream=self.stream)
            await self._read_loop(stop)
        finally:
            if self._inflight:
                log.info("runner_draining", jobs=len(self._inflight))
                _, pending = await asyncio.wait(self._inflight, timeout=self.drain_seconds)
                for task in pending:
                    task.cancel()
            for task in (heartbeat, sampler):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(*REDIS_DOWN):
                await self.redis.delete(self.keys.alive(self.host_id))
            log.info("runner_stopped", host=self.host_id)

    async def _recover_pending(self) -> None:
        """Jobs delivered to this host before a restart and never acknowledged."""
        for entry_id, fields in await self.jobs.read_pending():
            if fields:
                self._spawn(entry_id, fields)
            else:  # trimmed from the stream meanwhile: nothing left to answer
                await self.jobs.ack(entry_id)

    async def _read_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            free = self.concurrency - len(self._inflight)
            if free <= 0:
                await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED, timeout=1.0)
                continue
            entries = await retry.unless_stopped(
                functools.partial(self.jobs.read_new, free, block_ms=1000),
                on=REDIS_DOWN, what="runner_read", stop=stop,
            )  # fmt: skip
            if isinstance(entries, list):
                for entry_id, fields in entries:
                    self._spawn(entry_id, fields)

    def _spawn(self, entry_id: str, fields: dict[str, Any]) -> None:
        task = asyncio.create_task(self._handle(entry_id, fields), name=f"job-{entry_id}")
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    # ------------------------------------------------------------------ heartbeat

    async def _heartbeat_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.heartbeat()
            except Exception as exc:  # a dead heartbeat task would make a working runner look gone
                log.warning("heartbeat_failed", error=str(exc))
            await sleep_or_stop(stop, self.heartbeat_seconds)

    async def heartbeat(self) -> None:
        podman = await self.podman_facts.read()
        info = RunnerInfo(
            host=self.host_id,
            version=__version__,
            pid=os.getpid(),
            started_at=self.started_at,
            last_seen=await self.clock.now(),  # on Redis's clock, as the bot reads it
            heartbeat_seconds=self.heartbeat_seconds,
            podman_version=podman.version,
            podman_api_version=podman.api_version,
            podman_error=podman.error,
            pyroscope_url=self.pyroscope_url,
            containers=podman.containers,
            pyroscope_ui_url=self.host.pyroscope.ui_url,
            grafana_ui_url=self.grafana_ui_url,
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.runners, self.host_id, info.model_dump_json())
            # Three beats, plus the up-to-4 s the podman probes above may take.
            pipe.set(self.keys.alive(self.host_id), "1", ex=max(1, round(self.heartbeat_seconds * 3 + 4)))
            await pipe.execute()

    # ------------------------------------------------------------------ volume history

    async def _sample_loop(self, stop: asyncio.Event) -> None:
        """Volume sizes on a schedule, kept (bounded) in Redis: storage growth needs history."""
        while not stop.is_set() and self.sample_volumes:
            for volume in self.sample_volumes:
                try:
                    await self.sample_volume(volume)
                except Exception as exc:  # sampling is best effort; it must not die for good
                    log.info("volume_sample_skipped", volume=volume, error=str(exc))
            await sleep_or_stop(stop, self.sample_seconds)

    async def sample_volume(self, volume: str) -> VolumeSample | None:
        attrs = await self.host.podman.volume(volume)
        size = await asyncio.to_thread(tree_size, str(attrs.get("Mountpoint", "")))
        if size is None:
            return None
        sample = VolumeSample(at=time.time(), size_bytes=size)
        key = self.keys.volume_history(self.host_id, volume)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {sample.model_dump_json(): sample.at})
            pipe.zremrangebyrank(key, 0, -(HISTORY_SAMPLES + 1))
            await pipe.execute()
        return sample

    # ------------------------------------------------------------------ one job

    async def _handle(self, entry_id: str, fields: dict[str, Any]) -> None:
        try:
            job = Job.model_validate_json(fields.get("job", ""))
        except ValidationError as exc:
            # Nothing to answer to: no valid job id. Acknowledge so it is not redelivered forever.
            log.error("job_malformed", entry_id=entry_id, error=str(exc)[:300])
            await self._ack(entry_id)
            return
        if job.id in self._running:  # delivered again while it runs here: the run under way answers
            log.info("job_redelivered_running", job_id=job.id, entry_id=entry_id)
            if self._running[job.id] != entry_id:  # another entry for the same job: done with it
                await self._ack(entry_id)
            return
        self._running[job.id] = entry_id
        try:
            result = await self._run_once(job)
            if result is not None:
                if self.meter is not None:
                    operation = job.op if job.op in self.catalog else "unknown"  # a label from a bounded set
                    took = None if result.started_at is None else result.finished_at - result.started_at
                    self.meter.ran(operation, result.status, took)
                await self._publish(job, result)
        finally:
            del self._running[job.id]
        await self._ack(entry_id)

    async def _claim(self, job: Job) -> bool:
        """Take the job for this attempt. A retried SET whose first try did land (reply lost)
        finds its own token and still counts as taken."""
        token = f"{self.host_id}:{os.getpid()}:{uuid.uuid4().hex}"
        key = self.keys.claim(job.id)
        claimed = await self._retrying(lambda: self.redis.set(key, token, nx=True, ex=CLAIM_TTL_SECONDS))
        if claimed:
            return True
        return bool(await self._retrying(lambda: self.redis.get(key)) == token)

    async def _run_once(self, job: Job) -> JobResult | None:
        if not await self._claim(job):
            return await self._answer_redelivery(job)
        started = await self.clock.now()
        if started >= job.deadline:
            log.info("job_expired", job_id=job.id, op=job.op)
            return self._result(job, JobStatus.EXPIRED, error=f"{job.op} expired before the runner took it")
        log.info("job_started", job_id=job.id, op=job.op)
        try:
            if job.op not in self.catalog:
                raise InvalidArgument(f"unknown operation {job.op!r}")
            try:
                operation = self.catalog.parse(job.op, job.params)
            except ValidationError as exc:
                raise InvalidArgument(_describe_validation(exc)) from None
            if operation.kind is OpKind.READ:
                try:
                    value = await asyncio.wait_for(
                        self.table.execute(self.host, operation), timeout=job.deadline - started
                    )
                except TimeoutError:
                    raise OperationTimeout(f"{job.op} cut off after {job.deadline - started:.1f}s") from None
            else:
                await self._check_approval(job, operation.kind)
                value = await progress.run_change(
                    job.op, lambda: self.table.execute(self.host, operation), job.deadline - started
                )
        except OperationError as exc:
            log.info("job_failed", job_id=job.id, op=job.op, code=exc.code, error=redact(str(exc))[0][:500])
            return self._result(job, JobStatus.ERROR, started=started, code=exc.code, error=str(exc))
        except Exception as exc:  # an unexpected bug must still answer the waiting user
            log.exception("job_crashed", job_id=job.id, op=job.op)
            return self._result(
                job,
                JobStatus.ERROR,
                started=started,
                code="operation_failed",
                error=f"{type(exc).__name__}: {exc}",
            )
        log.info("job_done", job_id=job.id, op=job.op, ms=round((time.time() + self.clock.offset - started) * 1000, 1))
        return self._result(job, JobStatus.OK, started=started, value=value.model_dump(mode="json"))

    async def _check_approval(self, job: Job, kind: OpKind) -> None:
        """A change runs only as a step of a running change request that lists it, once; before
        the first step, the target must still be the one the request was made for."""
        if not job.approval_id:
            raise NotApproved(f"{job.op} is a {kind} operation: it needs the id of the approval the bot issued")
        try:
            request, index = await self.approvals.authorize_step(
                job.approval_id, host=self.host_id, op=job.op, params=job.params, job_id=job.id, kind=kind
            )
        except RedisUnavailable as exc:  # before its claim held: the step did not run, whatever Redis did
            raise Unconfirmed(f"{job.op}: Redis failed while its approval was checked ({exc}); not run") from None
        if index == 0 and request.identity is not None:
            check_bound_target(self.host.policy, job.op, request.identity)
            await verify_identity(self.host, request.identity)
        log.info("job_approved", job_id=job.id, op=job.op, request=request.id, step=index, by=request.decided_by)

    async def _answer_redelivery(self, job: Job) -> JobResult | None:
        existing = await self._retrying(lambda: self.redis.get(self.keys.result(job.id)))
        if existing is not None:
            log.info("job_redelivered_done", job_id=job.id)
            await self._retrying(lambda: self.redis.publish(self.keys.results_channel, job.id))
            return None
        log.warning("job_outcome_unknown", job_id=job.id, op=job.op)
        return self._result(
            job,
            JobStatus.UNKNOWN,
            error=f"{job.op}: the runner on {self.host_id} stopped while running it; outcome unknown, not re-run",
        )

    def _result(
        self,
        job: Job,
        status: JobStatus,
        *,
        started: float | None = None,
        value: dict[str, Any] | None = None,
        code: str | None = None,
        error: str | None = None,
    ) -> JobResult:
        return JobResult(
            job_id=job.id,
            host=self.host_id,
            op=job.op,
            status=status,
            # Every string a result carries (URLs, health-check output, Grafana's datasource URLs)
            # leaves redacted, not only the texts an operation bounded itself.
            result=redact_strings(value) if value is not None else None,
            error_code=code,
            # Error text quotes podman, YAML parsers and exceptions: it leaves redacted, like output.
            error=redact(error)[0][:2000] if error else None,
            started_at=started,
            finished_at=time.time() + self.clock.offset,  # on the clock started_at is on
        )

    async def _publish(self, job: Job, result: JobResult) -> None:
        """Store the result (on the replicas too, when there are), then tell the waiting bot."""

        async def store() -> None:
            async with self.replication.writer(self.redis) as conn:
                await conn.set(self.keys.result(job.id), result.model_dump_json(), ex=RESULT_TTL_SECONDS)
                if not await self.replication.confirmed(conn):
                    log.warning("redis_write_unconfirmed", what="result", job_id=job.id)
                await conn.publish(self.keys.results_channel, job.id)

        await self._retrying(store)

    async def _ack(self, entry_id: str) -> None:
        await self._retrying(lambda: self.jobs.ack(entry_id))

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Retry a Redis call until it succeeds: a result computed must not be lost to a blip."""
        return await retry.forever(call, on=REDIS_DOWN, what="runner_redis")


def _describe_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
