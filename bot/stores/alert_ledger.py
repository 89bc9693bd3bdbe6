"""The alert ledger in Redis: every alert received, each group's state and its thread (keys:
profbot/keys.py).

A notification is written in one step, a Lua script (atomic like MULTI/EXEC): the group's fields,
each alert under its fingerprint, one entry per alert in the ledger stream, and last one entry in
the inbox stream the alert poster reads (bot/stores/alert_inbox.py), so the poster never finds an
entry before its group. With replicas (Redis Sentinel) a ``WAIT`` follows the script on the same
connection, in the same round trip, until they hold it all; one they did not confirm in time is
refused: the sender retries. Only then does the intake answer 2xx, so an acknowledged alert is
stored, on the replicas too when there are; the front end is never on the intake's path. One round
trip per webhook, whatever its size: the intake's pace is that of its round trips.

The group's hash also holds its incident: its number, its thread, the previous incident's thread,
and a parent post begun (its idempotency key and when) until the post's ts is stored. Groups whose
channel refused the bot are kept in a set (parked) until their thread is brought up to date.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import redis.asyncio as aioredis
from pydantic_core import to_json
from redis.exceptions import NoScriptError

from bot.usecases.alert_model import Alert, AlertGroup, AlertNotification
from profbot.errors import RedisUnavailable
from profbot.heap import give_back_soon
from profbot.keys import Keys
from profbot.redis_access import REDIS_DOWN, Replication, redis_errors

LEDGER_MAXLEN = 1_000_000
LARGE_GROUP_ALERTS = 1_000
LARGE_GROUP_TRIM_DELAY = 2.0  # seconds: past the sync that read the group
INBOX_MAXLEN = 100_000
RETENTION_SECONDS = 30 * 86400  # a resolved group's keys live this long (PROFBOT_ALERT_RETENTION_DAYS)

# The next incident, in one step against the intake writing meanwhile (ARGV: the incident seen, its
# thread, channel, previous link, last seen and notifications as seen). Nothing if another took the
# step already. An alert left behind is one still resolved now: one that fired again since it was
# seen stays, with the new incident. Notifications taken since it was seen stay counted.
_OPEN_INCIDENT = """
if tonumber(redis.call('HGET', KEYS[1], 'incident') or '1') ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'incident', tonumber(ARGV[1]) + 1, 'previous_thread_ts', ARGV[2],
  'previous_channel', ARGV[3], 'previous_link', ARGV[4], 'first_seen', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'notifications', 1 - tonumber(ARGV[6]))
redis.call('HDEL', KEYS[1], 'thread_ts', 'channel', 'resolved_at', 'resolved_posted', 'posting_key', 'posting_since')
redis.call('DEL', KEYS[3])
local alerts = redis.call('HGETALL', KEYS[2])
for i = 1, #alerts, 2 do
  local ok, alert = pcall(cjson.decode, alerts[i + 1])
  if ok and type(alert) == 'table' and alert['status'] == 'resolved' then redis.call('HDEL', KEYS[2], alerts[i]) end
end
return 1
"""


# A notification, in one step (so the poster never finds an inbox entry before its group): the group's
# fields (first_seen once), its count, each alert under its fingerprint (a re-sent alert replaces
# itself) and one ledger entry per alert, the group's keys kept while it fires and for the retention
# once resolved, then one inbox entry for the poster. KEYS: group, its alerts, its announced set,
# ledger, inbox. ARGV: gid, now, now for the ledger, status, retention, the two streams' maxlen, the
# number of group fields, those fields and values, then 4 per alert: fingerprint, JSON, status, alertname.
_RECORD = """
local gid, now, at, status = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local nfields = tonumber(ARGV[8])
redis.call('HSETNX', KEYS[1], 'first_seen', now)
redis.call('HSET', KEYS[1], 'last_seen', now, unpack(ARGV, 9, 8 + 2 * nfields))
redis.call('HINCRBY', KEYS[1], 'notifications', 1)
for i = 9 + 2 * nfields, #ARGV, 4 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], '*', 'group', gid, 'fingerprint', ARGV[i],
    'status', ARGV[i + 2], 'alertname', ARGV[i + 3], 'at', at)
end
for k = 1, 3 do
  if status == 'resolved' then redis.call('EXPIRE', KEYS[k], ARGV[5]) else redis.call('PERSIST', KEYS[k]) end
end
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], '*', 'group', gid)
return 1
"""


Arg = str | bytes | int | float
MAX_BATCH = 256  # notifications written in one round trip at most


class _RecordWrites:
    """The record script's calls, and with replicas relied on one ``WAIT`` after them, in one round
    trip on one connection (WAIT counts that connection's writes). One round trip is under way at a
    time; the notifications that come meanwhile go together in the next, so a webhook costs at most
    one round trip and a burst of them far fewer. Each caller gets its own script's answer (and the
    replicas that confirmed it, if asked), after the replicas' answer: none is answered earlier."""

    def __init__(self, redis: aioredis.Redis, replication: Replication) -> None:
        self.redis, self.replication = redis, replication
        # Called by its name (evalsha) inside the pipeline: the Script object's own call would ask
        # SCRIPT EXISTS first, a round trip more.
        self._script = redis.register_script(_RECORD)
        self._queue: list[tuple[list[str], list[Arg], asyncio.Future[int | None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def write(self, keys: list[str], args: list[Arg]) -> int | None:
        """Run the script; the replicas that confirmed it (None when none are asked for)."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._queue.append((keys, args, future))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush(), name="alert-ledger-writes")
        return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    answers = await self._round_trip([(keys, args) for keys, args, _ in batch])
                except REDIS_DOWN as exc:  # Redis away: every caller of the batch answers 503
                    answers = [RedisUnavailable(f"Redis unavailable: {exc}") for _ in batch]
                except Exception as exc:  # a bug: its callers fail with it (a 500 each)
                    answers = [exc] * len(batch)
                except BaseException:  # cancelled (shutting down): no caller waits for ever
                    for _, _, future in batch:
                        future.cancel()
                    raise
                for (_, _, future), answer in zip(batch, answers, strict=True):
                    if future.done():  # its caller was cancelled
                        continue
                    if isinstance(answer, BaseException):
                        future.set_exception(answer)
                    else:
                        future.set_result(answer)
        finally:
            self._flushing = None

    async def _round_trip(self, calls: list[tuple[list[str], list[Arg]]], loaded: bool = False) -> list[Any]:
        """Each call's answer: the replicas that confirmed it (or None), or its error. A Redis that
        lacks the script (restarted, or a new primary) is given it, and those calls are made again."""
        acks = self.replication.acks
        async with self.redis.pipeline(transaction=False) as pipe:
            for keys, args in calls:
                pipe.evalsha(self._script.sha, len(keys), *keys, *args)
            if acks > 0:
                pipe.wait(acks, self.replication.timeout_ms)
            answers = await pipe.execute(raise_on_error=False)
        replicas = answers[len(calls)] if acks > 0 else None
        if isinstance(replicas, Exception):
            raise replicas
        out: list[Any] = [a if isinstance(a, Exception) else replicas for a in answers[: len(calls)]]
        missing = [i for i, a in enumerate(out) if isinstance(a, NoScriptError)]
        if missing and not loaded:
            await self.redis.script_load(self._script.script)
            again = await self._round_trip([calls[i] for i in missing], loaded=True)
            for i, answer in zip(missing, again, strict=True):
                out[i] = answer
        return out


class RedisAlertLedger:
    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        replication: Replication | None = None,
        *,
        retention_seconds: int = RETENTION_SECONDS,
    ) -> None:
        """``retention_seconds``: how long a resolved group is kept (it lives as long as it fires)."""
        self.redis = redis
        self.keys = Keys(prefix)
        self.replication = replication or Replication()
        self.retention_seconds = retention_seconds
        self._open_incident_script = redis.register_script(_OPEN_INCIDENT)
        self._writes = _RecordWrites(redis, self.replication)

    async def record(self, notification: AlertNotification) -> str:
        """Store a notification durably; its group id. Raises RedisUnavailable (the intake's 503)."""
        gid = notification.group_id
        now = time.time()
        keys = [*self._group_keys(gid), self.keys.alert_ledger, self.keys.alert_inbox]
        fields: dict[str, str | bytes] = {
            "source": notification.source,
            "group_key": notification.group_key,
            "status": notification.status,
            "receiver": notification.receiver,
            "group_labels": to_json(notification.group_labels),
            "common_labels": to_json(notification.common_labels),
            "common_annotations": to_json(notification.common_annotations),
            "external_url": notification.external_url,
            "title": notification.title,
            "truncated": str(notification.truncated),
        }
        args: list[Arg] = [
            gid, repr(now), f"{now:.3f}", notification.status, self.retention_seconds, LEDGER_MAXLEN, INBOX_MAXLEN,
            len(fields), *(x for pair in fields.items() for x in pair),
        ]  # fmt: skip
        for alert in notification.alerts:
            args += (alert.identity, alert.model_dump_json(), alert.status, alert.labels.get("alertname", ""))
        with redis_errors():
            replicas = await self._writes.write(keys, args)
        if replicas is not None and replicas < self.replication.acks:
            raise RedisUnavailable(f"no Redis replica confirmed the alert within {self.replication.timeout_ms} ms")
        return gid

    def _group_keys(self, gid: str) -> tuple[str, str, str]:
        return self.keys.alert_group(gid), self.keys.alert_group_alerts(gid), self.keys.alert_group_announced(gid)

    async def group(self, gid: str) -> AlertGroup | None:
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:  # one round trip, one snapshot
                pipe.hgetall(self.keys.alert_group(gid))
                pipe.hgetall(self.keys.alert_group_alerts(gid))
                fields, alerts = await pipe.execute()
        if not fields:
            return None
        if len(alerts) > LARGE_GROUP_ALERTS:  # its thread's rendering done, the heap it used goes back
            give_back_soon(LARGE_GROUP_TRIM_DELAY)
        return AlertGroup(
            id=gid,
            source=fields["source"],
            group_key=fields["group_key"],
            status=fields["status"],
            receiver=fields.get("receiver", ""),
            group_labels=json.loads(fields.get("group_labels") or "{}"),
            common_labels=json.loads(fields.get("common_labels") or "{}"),
            common_annotations=json.loads(fields.get("common_annotations") or "{}"),
            external_url=fields.get("external_url", ""),
            title=fields.get("title", ""),
            truncated=int(fields.get("truncated") or 0),
            first_seen=float(fields["first_seen"]),
            last_seen=float(fields["last_seen"]),
            notifications=int(fields.get("notifications", 0)),
            thread_ts=fields.get("thread_ts") or None,
            channel=fields.get("channel") or None,
            resolved_at=float(fields["resolved_at"]) if fields.get("resolved_at") else None,
            resolved_posted=fields.get("resolved_posted") == "1",
            alerts={fp: Alert.model_validate_json(raw) for fp, raw in alerts.items()},
            incident=int(fields.get("incident") or 1),
            previous_thread_ts=fields.get("previous_thread_ts") or None,
            previous_channel=fields.get("previous_channel") or None,
            previous_link=fields.get("previous_link") or None,
            posting_key=fields.get("posting_key") or None,
            posting_since=float(fields["posting_since"]) if fields.get("posting_since") else None,
        )

    async def _set(self, gid: str, **fields: Any) -> None:
        with redis_errors():
            await self.redis.hset(self.keys.alert_group(gid), mapping={k: str(v) for k, v in fields.items()})

    async def set_thread(self, gid: str, channel: str, ts: str) -> None:
        key = self.keys.alert_group(gid)
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"thread_ts": ts, "channel": channel})
                pipe.hdel(key, "posting_key", "posting_since")
                await pipe.execute()

    async def begin_parent(self, gid: str, key: str, at: float) -> None:
        await self._set(gid, posting_key=key, posting_since=at)

    async def forget_parent(self, gid: str, key: str) -> None:
        with redis_errors():
            if await self.redis.hget(self.keys.alert_group(gid), "posting_key") == key:  # under the group's lock
                await self.redis.hdel(self.keys.alert_group(gid), "posting_key", "posting_since")

    async def park(self, gid: str) -> None:
        with redis_errors():
            await self.redis.sadd(self.keys.alert_parked, gid)

    async def unpark(self, gid: str) -> None:
        with redis_errors():
            await self.redis.srem(self.keys.alert_parked, gid)

    async def parked(self) -> list[str]:
        with redis_errors():
            return sorted(str(gid) for gid in await self.redis.smembers(self.keys.alert_parked))

    async def open_incident(self, group: AlertGroup, previous_link: str | None) -> None:
        with redis_errors():
            await self._open_incident_script(
                keys=[self.keys.alert_group(group.id), self.keys.alert_group_alerts(group.id),
                      self.keys.alert_group_announced(group.id)],
                args=[group.incident, group.thread_ts or "", group.channel or "", previous_link or "",
                      group.last_seen, group.notifications],
            )  # fmt: skip

    async def set_resolved(self, gid: str, at: float) -> None:
        await self._set(gid, resolved_at=at, resolved_posted=1)

    async def announced(self, gid: str) -> set[str]:
        with redis_errors():
            return {str(fp) for fp in await self.redis.smembers(self.keys.alert_group_announced(gid))}

    async def announce(self, gid: str, fingerprints: list[str]) -> None:
        if fingerprints:
            with redis_errors():
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.sadd(self.keys.alert_group_announced(gid), *fingerprints)
                    # The set goes when its group does (a resolved group's retention).
                    pipe.ttl(self.keys.alert_group(gid))
                    _, left = await pipe.execute()
                if int(left) > 0:
                    await self.redis.expire(self.keys.alert_group_announced(gid), int(left))

    async def claim_diagnosis(self, gid: str, incident: int, cooldown: float) -> bool:
        """True once per cooldown per incident: whether this sighting should run the diagnosis."""
        if cooldown <= 0:
            return True
        with redis_errors():
            key = self.keys.alert_group_diagnosed(gid, incident)
            return bool(await self.redis.set(key, "1", nx=True, ex=max(1, int(cooldown))))
