"""Change requests in Redis, as the bot and the runners both use them (keys: profbot/keys.py).

Every state change is a compare-and-set on the request's version (one Lua script), so two clicks,
Slack's retries or two bot replicas cannot move a request twice. One change at a time per target:
a request holds its container or volume from its filing until it is final, and filing another on
it is refused in the same script that would store it. A runner takes each step of a running
request at most once (:meth:`ApprovalStore.authorize_step`).

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
from profbot.errors import NotApproved, RedisUnavailable, Unconfirmed
from profbot.keys import Keys
from profbot.ops.contract import OpKind
from profbot.redis_access import REDIS_DOWN, Replication, redis_errors

log = structlog.get_logger("profbot.approvals")

STEP_CLAIM_TTL_SECONDS = 7 * 24 * 3600
REQUEST_TTL_SECONDS = 30 * 24 * 3600  # requests stay readable (for "already done by X") this long
# A pending request holds its target a little past its expiry: the sweeper expires it within
# seconds, and a confirmation in its last second must find the target still held.
HOLD_MARGIN_SECONDS = 120
# A running request holds its target this long after it started or last recorded a step: its bot,
# killed without its shutdown (which marks it "unknown"), must not keep the target for ever.
RUNNING_HOLD_SECONDS = 3600

# File a request: a pending one unless the same change on the same target is open (that one's id
# is the answer) or another request holds something it touches (the holder's id is the answer). A
# request holds every container or volume its plan touches (KEYS[6..]); besides, each is listed
# on its host (KEYS[4], scored by when its hold ends) unless it touches the whole host, which it
# then holds (KEYS[5]): it needs the host's list empty, and the others need it free. All in one
# script, so two requests filed at once cannot both get what they touch.
_CREATE = """
if ARGV[5] == '1' then
  local same = redis.call('GET', KEYS[1])
  if same then return same end
  local wide = redis.call('GET', KEYS[5])
  if wide then return wide end
  if ARGV[10] == '1' then
    redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[9])
    local first = redis.call('ZRANGE', KEYS[4], 0, 0)
    if first[1] then return first[1] end
  end
  for i = 6, #KEYS do
    local holder = redis.call('GET', KEYS[i])
    if holder then return holder end
  end
  local hold = tonumber(ARGV[6]) + tonumber(ARGV[7])
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[6])
  if ARGV[10] == '1' then
    redis.call('SET', KEYS[5], ARGV[1], 'EX', hold)
  else
    redis.call('ZADD', KEYS[4], tonumber(ARGV[9]) + hold, ARGV[1])
    if redis.call('TTL', KEYS[4]) < hold then redis.call('EXPIRE', KEYS[4], hold) end
  end
  for i = 6, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'EX', hold) end
  redis.call('ZADD', KEYS[3], ARGV[8], ARGV[1])
end
redis.call('HSET', KEYS[2], 'state', ARGV[2], 'doc', ARGV[3], 'version', 0)
redis.call('EXPIRE', KEYS[2], ARGV[4])
return ARGV[1]
"""


# Write a request's new state and document if nobody wrote it since we read it (its version): 0
# when somebody did. When it leaves its pending states, free the "one open request per change and
# target" key. Starting it (ARGV[6] 'start') needs everything it holds still its own or free (a
# pending hold lapses a little after the request's expiry, and another request may have taken it):
# -1, nothing written, when another has it. While it runs, keep holding; once final, let go.
_TRANSITION = """
local version = redis.call('HGET', KEYS[1], 'version') or '0'
if version ~= ARGV[3] then return 0 end
local id, wide = ARGV[5], ARGV[9] == '1'
local function free_or_ours(key)
  local holder = redis.call('GET', key)
  return (not holder) or holder == id
end
if ARGV[6] == 'start' then
  if not free_or_ours(KEYS[4]) then return -1 end
  for i = 5, #KEYS do
    if not free_or_ours(KEYS[i]) then return -1 end
  end
  if wide then
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[8])
    if redis.call('ZCARD', KEYS[3]) > 0 then return -1 end
  end
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'doc', ARGV[2], 'version', tonumber(version) + 1)
if ARGV[4] == '0' and redis.call('GET', KEYS[2]) == id then redis.call('DEL', KEYS[2]) end
if ARGV[6] == 'start' or ARGV[6] == 'running' then
  local hold = tonumber(ARGV[7])
  if wide then
    if free_or_ours(KEYS[4]) then redis.call('SET', KEYS[4], id, 'EX', hold) end
  else
    redis.call('ZADD', KEYS[3], tonumber(ARGV[8]) + hold, id)
    if redis.call('TTL', KEYS[3]) < hold then redis.call('EXPIRE', KEYS[3], hold) end
  end
  for i = 5, #KEYS do
    if free_or_ours(KEYS[i]) then redis.call('SET', KEYS[i], id, 'EX', hold) end
  end
elseif ARGV[6] == 'final' then
  if redis.call('GET', KEYS[4]) == id then redis.call('DEL', KEYS[4]) end
  redis.call('ZREM', KEYS[3], id)
  for i = 5, #KEYS do
    if redis.call('GET', KEYS[i]) == id then redis.call('DEL', KEYS[i]) end
  end
end
return 1
"""

# Record one execution of a change on a target unless the hour's budget is spent.
_COOLDOWN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


class ApprovalStore:
    def __init__(self, redis: aioredis.Redis, prefix: str, replication: Replication | None = None) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.replication = replication or Replication()
        self._create = redis.register_script(_CREATE)
        self._transition = redis.register_script(_TRANSITION)
        self._cooldown = redis.register_script(_COOLDOWN)

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

    def held_keys(self, request: ChangeRequest) -> list[str]:
        """The keys of what it holds: the host's list of holders, the host-wide hold, then each
        container or volume it touches."""
        return [
            self.keys.change_holders_on(request.host),
            self.keys.change_held_host_wide(request.host),
            *(self.keys.change_held(key) for key in request.hold_keys),
        ]

    async def create(self, request: ChangeRequest) -> str:
        """Store a new request; the id of the request stored. Another id answers that nothing was
        stored: the same change already open on the same target (a double click files one
        request), or another request, open or running, holding the target."""
        ttl = max(1, int(request.expires_at - time.time()) + 1)
        with redis_errors():
            async with self.replication.writer(self.redis) as conn:
                stored = await self._create(
                    keys=[self.open_key(request), self.key(request.id), self.pending_key, *self.held_keys(request)],
                    args=[request.id, request.state.value, request.model_dump_json(), REQUEST_TTL_SECONDS,
                          "1" if request.state.pending else "0", ttl, HOLD_MARGIN_SECONDS, request.expires_at,
                          time.time(), "1" if request.host_wide else "0"],
                    client=conn,
                )  # fmt: skip
                await self._confirm(conn, "create", request.id)
        return stored.decode() if isinstance(stored, bytes) else str(stored)

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
    ) -> tuple[bool, ChangeRequest | None]:
        """Move the request to ``to`` if it is in one of ``allowed_from``; ``change`` edits the
        stored document on the way. Answers whether this call moved it, and the request as it now is."""
        return await self._write(request_id, allowed_from, to, change)

    async def update(self, request_id: str, change: Callable[[ChangeRequest], None]) -> ChangeRequest | None:
        """Edit a request's document without changing its state (progress while it runs)."""
        return (await self._write(request_id, frozenset(RequestState), None, change))[1]

    async def _write(
        self,
        request_id: str,
        allowed_from: frozenset[RequestState] | set[RequestState],
        to: RequestState | None,
        change: Callable[[ChangeRequest], None] | None,
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
            with redis_errors():
                async with self.replication.writer(self.redis) as conn:
                    written = await self._transition(
                        keys=[self.key(request_id), self.open_key(current), *self.held_keys(current)],
                        args=[updated.state.value, updated.model_dump_json(), version,
                              "1" if updated.state.pending else "0", request_id, holding, RUNNING_HOLD_SECONDS,
                              time.time(), "1" if current.host_wide else "0"],
                        client=conn,
                    )  # fmt: skip
                    if int(written) == 1:
                        if not updated.state.pending:
                            await conn.zrem(self.pending_key, request_id)
                        await self._confirm(conn, updated.state.value, request_id)
            if int(written) == -1:  # another request has what it would start on: not moved
                return False, current
            if int(written) == 1:
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
        for index in matching:
            key = self.step_key(request_id, index)
            try:
                async with self.replication.writer(self.redis) as conn:
                    taken = await conn.set(key, job_id, nx=True, ex=STEP_CLAIM_TTL_SECONDS)
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
