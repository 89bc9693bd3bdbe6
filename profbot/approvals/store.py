"""Change requests in Redis, as the bot and the runners both use them (keys: profbot/keys.py).

Every state change is a compare-and-set on the request's version (one Lua script), so two clicks,
Slack's retries or two bot replicas cannot move a request twice. One change at a time per target:
a request holds its container or volume from its filing until it is final, and filing another on
it is refused in the same script that would store it. A runner takes each step of a running
request at most once (:meth:`ApprovalStore.authorize_step`). A write that is audited (the filing,
each move, the verification) appends its event to the audit stream in that same script: both are
written or neither is, and a move refused writes no event.

With replicas (Redis Sentinel), every write here waits until ``replication.acks`` replicas hold it
(``WAIT``), so a failover cannot forget it: a state change not confirmed in time stands, logged;
a step claim not confirmed is not run (:class:`~profbot.errors.Unconfirmed`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
import structlog

from profbot.approvals.model import ChangeRequest, RequestState
from profbot.approvals.scripts import COOLDOWN, CREATE, TRANSITION
from profbot.audit import AUDIT_MAXLEN, Audited, AuditEvent, logged, stream_entry
from profbot.clock import RedisClock
from profbot.errors import NotApproved, RedisUnavailable, Unconfirmed
from profbot.keys import Keys
from profbot.ops.contract import OpKind
from profbot.redis_access import REDIS_DOWN, Replication, redis_errors

log = structlog.get_logger("profbot.approvals")

REQUEST_TTL_SECONDS = 30 * 24 * 3600  # requests stay readable (for "already done by X") this long
# A pending request holds its target a little past its expiry: the sweeper expires it within
# seconds, and a confirmation in its last second must find the target still held.
HOLD_MARGIN_SECONDS = 120
# A running request holds its target this long after it started or last recorded a step: its bot,
# killed without its shutdown (which marks it "unknown"), must not keep the target for ever.
RUNNING_HOLD_SECONDS = 3600
# A running request's executor renews its lease this far ahead (every EXECUTOR_RENEW_SECONDS, or a
# quarter of a shorter lease); a lease lapsed means no live executor: the reaper says "outcome
# unknown" and its steps stop being authorised on the runners. The default of
# PROFBOT_EXECUTOR_LEASE_SECONDS (profbot/settings.py).
EXECUTOR_LEASE_SECONDS = 60.0
EXECUTOR_RENEW_SECONDS = 15.0


def renew_interval(lease: float) -> float:
    """How often an executor renews a lease of ``lease`` seconds: well before it lapses."""
    return min(EXECUTOR_RENEW_SECONDS, lease / 4)


# Each person's latest requests, for their App Home: this many ids, the key gone with the requests.
BY_USER_KEPT = 20


class ApprovalStore:
    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        replication: Replication | None = None,
        *,
        executor_lease: float = EXECUTOR_LEASE_SECONDS,
    ) -> None:
        """``executor_lease``: the lease a request gets as it starts running (PROFBOT_EXECUTOR_LEASE_SECONDS)."""
        self.redis = redis
        self.executor_lease = executor_lease
        self.keys = Keys(prefix)
        self.replication = replication or Replication()
        self._create = redis.register_script(CREATE)
        self._transition = redis.register_script(TRANSITION)
        self._cooldown = redis.register_script(COOLDOWN)
        self.clock = RedisClock(redis)  # leases are read by every replica: on one clock

    def key(self, request_id: str) -> str:
        return self.keys.change(request_id)

    def step_key(self, request_id: str, index: int) -> str:
        return self.keys.change_step(request_id, index)

    @property
    def pending_key(self) -> str:
        return self.keys.changes_pending

    def executions_key(self, request: ChangeRequest) -> str:
        return self.keys.change_executions(request.target_key)

    def open_key(self, request: ChangeRequest) -> str:
        return self.keys.change_open(request.target_key)

    def _audit_args(self, event: AuditEvent | None) -> list[str | int]:
        """A script's last arguments: the audit stream's length and the event's fields, or none."""
        return [] if event is None else [AUDIT_MAXLEN, *stream_entry(event)]

    def _hold_and_audit_keys(self, request: ChangeRequest) -> list[str]:
        """The scripts' last keys: the host's list of holders, the host-wide hold, the audit
        stream, then each container or volume the request touches."""
        holders, host_wide, *held = self.held_keys(request)
        return [holders, host_wide, self.keys.audit, *held]

    def held_keys(self, request: ChangeRequest) -> list[str]:
        """The keys of what it holds: the host's list of holders, the host-wide hold, then each
        container or volume it touches."""
        return [
            self.keys.change_holders_on(request.host),
            self.keys.change_held_host_wide(request.host),
            *(self.keys.change_held(key) for key in request.hold_keys),
        ]

    async def create(self, request: ChangeRequest, audit: AuditEvent | None = None) -> str:
        """Store a new request; the id of the request stored. Another id answers that nothing was
        stored: the same change already open on the same target (a double click files one
        request), or another request, open or running, holding the target. ``audit`` is appended
        to the audit stream with it, only if it was stored."""
        ttl = max(1, int(request.expires_at - time.time()) + 1)
        with redis_errors():
            async with self.replication.writer(self.redis) as conn:
                stored = await self._create(
                    keys=[self.open_key(request), self.key(request.id), self.pending_key,
                          *self._hold_and_audit_keys(request)],
                    args=[request.id, request.state.value, request.model_dump_json(), REQUEST_TTL_SECONDS,
                          "1" if request.state.pending else "0", ttl, HOLD_MARGIN_SECONDS, request.expires_at,
                          time.time(), "1" if request.host_wide else "0", *self._audit_args(audit)],
                    client=conn,
                )  # fmt: skip
                await self._confirm(conn, "create", request.id)
        stored_id = stored.decode() if isinstance(stored, bytes) else str(stored)
        if stored_id == request.id:
            if audit is not None:
                logged(audit)
            await self._index_by_requester(request)
        return stored_id

    async def _index_by_requester(self, request: ChangeRequest) -> None:
        """List it among its requester's (their App Home). The request is stored already: a failure
        here is logged, and costs only its line in that list."""
        key = self.keys.changes_by(request.requested_by)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zadd(key, {request.id: request.created_at})
                pipe.zremrangebyrank(key, 0, -(BY_USER_KEPT + 1))
                pipe.expire(key, REQUEST_TTL_SECONDS)
                await pipe.execute()
        except REDIS_DOWN as exc:
            log.warning("request_unlisted", request=request.id, error=str(exc)[:300])

    async def _many(self, ids: list[Any]) -> list[ChangeRequest]:
        if not ids:
            return []
        with redis_errors():
            async with self.redis.pipeline(transaction=False) as pipe:
                for request_id in ids:
                    pipe.hget(
                        self.key(request_id.decode() if isinstance(request_id, bytes) else str(request_id)), "doc"
                    )
                docs = await pipe.execute()
        return [ChangeRequest.model_validate_json(doc) for doc in docs if doc]

    async def requested_by(self, user: str, limit: int = 10) -> list[ChangeRequest]:
        """The latest requests ``user`` filed (at most ``limit``, and ``BY_USER_KEPT``), newest first."""
        with redis_errors():
            ids = await self.redis.zrevrange(self.keys.changes_by(user), 0, max(limit, 1) - 1)
        return await self._many(list(ids))

    async def pending(self, limit: int = 50) -> list[ChangeRequest]:
        """Requests waiting for a decision (the soonest to expire first), at most ``limit``."""
        with redis_errors():
            ids = await self.redis.zrange(self.pending_key, 0, max(limit, 1) - 1)
        return [r for r in await self._many(list(ids)) if r.state.pending]

    async def _read(self, request_id: str) -> tuple[ChangeRequest | None, str]:
        with redis_errors():
            doc, version = await self.redis.hmget(self.key(request_id), ["doc", "version"])
        return (ChangeRequest.model_validate_json(doc) if doc else None), str(version or "0")

    async def get(self, request_id: str) -> ChangeRequest | None:
        return (await self._read(request_id))[0]

    async def transition(
        self,
        request_id: str,
        to: RequestState,
        allowed_from: frozenset[RequestState] | set[RequestState],
        change: Callable[[ChangeRequest], None] | None = None,
        audit: Audited | None = None,
    ) -> tuple[bool, ChangeRequest | None]:
        """Move the request to ``to`` if it is in one of ``allowed_from``; ``change`` edits the
        stored document on the way, and ``audit``'s event (made from the request as moved) is
        appended to the audit stream in the same write, only if it moved. Answers whether this
        call moved it, and the request as it now is."""
        return await self._write(request_id, allowed_from, to, change, audit)

    async def update(
        self, request_id: str, change: Callable[[ChangeRequest], None], audit: Audited | None = None
    ) -> ChangeRequest | None:
        """Edit a request's document without changing its state (progress while it runs), audited
        with ``audit``'s event in the same write if given."""
        return (await self._write(request_id, frozenset(RequestState), None, change, audit))[1]

    async def _write(
        self,
        request_id: str,
        allowed_from: frozenset[RequestState] | set[RequestState],
        to: RequestState | None,
        change: Callable[[ChangeRequest], None] | None,
        audit: Audited | None = None,
    ) -> tuple[bool, ChangeRequest | None]:
        """Optimistic: read the document and its version, write only if the version is unchanged,
        else read again. Whoever loses a race sees the winner's state and stops there.
        ``to=None`` keeps the state as it is."""
        for _ in range(50):
            current, version = await self._read(request_id)
            if current is None or current.state not in allowed_from:
                return False, current
            updated = current.model_copy(deep=True)
            updated.state = to or current.state
            if change is not None:
                change(updated)
            event = audit(updated) if audit is not None else None
            # What it holds: taken again on starting (refused if another has it), renewed while it
            # runs, freed once final, as is while pending.
            running = updated.state is RequestState.RUNNING
            holding = (
                ("running" if current.state is RequestState.RUNNING else "start")
                if running
                else ""
                if updated.state.pending
                else "final"
            )
            starting = updated.state is RequestState.RUNNING and current.state is not RequestState.RUNNING
            if starting:  # leased before it runs: a bot killed right after the move is still reaped
                await self.lease(request_id, self.executor_lease)
            with redis_errors():
                async with self.replication.writer(self.redis) as conn:
                    written = await self._transition(
                        keys=[self.key(request_id), self.open_key(current), *self._hold_and_audit_keys(current)],
                        args=[updated.state.value, updated.model_dump_json(), version,
                              "1" if updated.state.pending else "0", request_id, holding, RUNNING_HOLD_SECONDS,
                              time.time(), "1" if current.host_wide else "0", *self._audit_args(event)],
                        client=conn,
                    )  # fmt: skip
                    if int(written) == 1:
                        if not updated.state.pending:
                            await conn.zrem(self.pending_key, request_id)
                        await self._confirm(conn, updated.state.value, request_id)
            if int(written) == -1:  # another request has what it would start on: not moved
                return False, current
            if int(written) == 1:
                if event is not None:
                    logged(event)
                if current.state is RequestState.RUNNING and not running:
                    await self._forget_lease(request_id)
                return True, updated
        return False, await self.get(request_id)

    async def _confirm(self, conn: aioredis.Redis, what: str, request_id: str) -> None:
        """Wait for the replicas; a write they did not confirm in time stands (the primary has it),
        and is logged: a failover now could forget it."""
        if not await self.replication.confirmed(conn):
            log.warning("redis_write_unconfirmed", what=what, request=request_id, replicas=self.replication.acks)

    async def ids_starting_with(self, prefix: str, limit: int = 10) -> list[str]:
        """Requests whose id starts with ``prefix`` (what a person types of an id), at most ``limit``."""
        if not prefix.isalnum():
            return []
        found: list[str] = []
        with redis_errors():
            async for key in self.redis.scan_iter(match=self.key(prefix) + "*", count=1000):
                request_id = str(key).removeprefix(self.key(""))
                if ":" not in request_id:  # not a step key
                    found.append(request_id)
                    if len(found) >= limit:
                        break
        return sorted(found)

    async def due_for_expiry(self, now: float | None = None) -> list[str]:
        with redis_errors():
            raw = await self.redis.zrangebyscore(self.pending_key, "-inf", now or time.time())
        return [item.decode() if isinstance(item, bytes) else str(item) for item in raw]

    async def lease(self, request_id: str, seconds: float) -> None:
        """The request's executor is alive for ``seconds`` more, on Redis's clock (every replica
        reads the same lease). A lease only grows: one covering a long step's deadline is not
        cut short by a routine renewal."""
        until = await self.clock.now() + seconds
        with redis_errors():
            grown = await self.redis.zadd(self.keys.changes_running, {request_id: until}, gt=True, ch=True)
            if grown:
                await self.redis.hset(self.keys.changes_lease_seconds, request_id, seconds)

    async def lease_of(self, request_id: str) -> float | None:
        """The length of the lease that sets when the request's executor counts as gone."""
        with redis_errors():
            raw = await self.redis.hget(self.keys.changes_lease_seconds, request_id)
        return float(raw) if raw is not None else None

    async def abandoned(self, limit: int = 20) -> list[str]:
        """Running requests whose executor's lease lapsed (the bot running them died): for the
        reaper. Ids listed that no longer run (a start that lost its race) are dropped."""
        now = await self.clock.now()
        with redis_errors():
            raw = await self.redis.zrangebyscore(self.keys.changes_running, "-inf", now, 0, limit)
        lapsed: list[str] = []
        for item in raw:
            request_id = item.decode() if isinstance(item, bytes) else str(item)
            request = await self.get(request_id)
            if request is not None and request.state is RequestState.RUNNING:
                lapsed.append(request_id)
            else:
                await self._forget_lease(request_id)
        return lapsed

    async def _forget_lease(self, request_id: str) -> None:
        """A request that no longer runs leaves the reaper's list, and its lease's length with it."""
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zrem(self.keys.changes_running, request_id)
                pipe.hdel(self.keys.changes_lease_seconds, request_id)
                await pipe.execute()

    async def take_execution_slot(self, request: ChangeRequest, per_hour: int, now: float | None = None) -> bool:
        """Count this execution against the target's hourly budget; False when it is spent."""
        with redis_errors():
            taken = await self._cooldown(
                keys=[self.executions_key(request)],
                args=[now or time.time(), 3600, per_hour, f"{request.id}:{uuid.uuid4().hex[:8]}"],
            )
        return bool(taken)

    async def executions_in_last_hour(self, request: ChangeRequest, now: float | None = None) -> int:
        now = now or time.time()
        with redis_errors():
            return int(await self.redis.zcount(self.executions_key(request), now - 3600, "+inf"))

    # ------------------------------------------------------------------ the runner's side

    async def authorize_step(
        self, request_id: str, *, host: str, op: str, params: dict[str, Any], job_id: str, kind: OpKind | None = None
    ) -> tuple[ChangeRequest, int]:
        """The request and step index a change job may run as; raises :class:`NotApproved`.

        The job must name a request that is running on this host and list this exact operation
        and arguments as a step nobody has taken yet. Taking the step is a SET NX, so the same
        step of the same request never runs twice, even if the bot sends it twice. A destroying
        step (``kind``) needs a destroy request that a second person approved: the runner checks
        what the bot's decision table decided, so a bot bug or a forged request cannot skip it.
        """
        try:
            request = await self.get(request_id)
        except RedisUnavailable as exc:  # a failover, say: nothing was taken, and nothing runs
            raise Unconfirmed(f"{op}: Redis failed while this step was being authorised ({exc}); not run") from None
        if request is None:
            raise NotApproved(f"{op}: no change request {request_id[:40]!r} was approved; nothing ran")
        if request.state is not RequestState.RUNNING:
            raise NotApproved(f"{op}: change request {request_id} is {request.state.value}, not approved to run")
        if request.host != host:
            raise NotApproved(f"{op}: change request {request_id} was approved for host {request.host}, not {host}")
        if kind is OpKind.DESTROY:
            if request.kind is not OpKind.DESTROY:
                raise NotApproved(f"{op} destroys data: request {request_id} is a {request.kind.value}; nothing ran")
            if not request.decided_by or request.decided_by == request.requested_by:
                raise NotApproved(
                    f"{op} destroys data: request {request_id} was not approved by a second person; nothing ran"
                )
        matching = [i for i, step in enumerate(request.steps) if step.op == op and step.params == params]
        if not matching:
            raise NotApproved(f"{op} with these arguments is not a step of approved request {request_id}; nothing ran")
        with redis_errors():  # a step's claim lives exactly as long as its request
            lives = int(await self.redis.ttl(self.key(request_id)))
        claim_ttl = lives if lives > 0 else REQUEST_TTL_SECONDS
        for index in matching:
            key = self.step_key(request_id, index)
            try:
                async with self.replication.writer(self.redis) as conn:
                    taken = await conn.set(key, job_id, nx=True, ex=claim_ttl)
                    holder = job_id if taken else await conn.get(key)
                    # A taken step runs only once a replica holds the claim: else a failover could
                    # forget it, and the job delivered again would run the step a second time.
                    confirmed = holder != job_id or await self.replication.confirmed(conn)
            except REDIS_DOWN as exc:  # the claim may or may not have landed: not run, either way
                raise Unconfirmed(f"{op}: Redis failed while this step was being claimed ({exc}); not run") from None
            if not confirmed:
                raise Unconfirmed(
                    f"{op}: no Redis replica confirmed this step's claim within {self.replication.timeout_ms} ms "
                    "(a failover could forget it), so it was not run; try again once Redis has its replica back"
                )
            if (holder.decode() if isinstance(holder, bytes) else holder) == job_id:
                return request, index  # taken now, or by our own earlier SET whose reply was lost
        raise NotApproved(f"{op}: this step of request {request_id} already ran; it is not run twice")
