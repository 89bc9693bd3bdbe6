"""The alert ledger in Redis: every alert received, each group's state and its thread (keys:
profbot/keys.py).

A notification is written in one MULTI/EXEC: the group's fields, each alert under its fingerprint,
one entry per alert in the ledger stream; then one entry in the inbox stream the alert poster reads
(bot/stores/alert_inbox.py), so the poster never finds an entry before its group. With replicas
(Redis Sentinel) the inbox entry's connection then waits until they hold it all (``WAIT``;
replication is in order), and one they did not confirm in time is refused: the sender retries.
Only then does the intake answer 2xx, so an acknowledged alert is stored, on the replicas too when
there are; the front end is never on the intake's path.

The group's hash also holds its incident: its number, its thread, the previous incident's thread,
and a parent post begun (its idempotency key and when) until the post's ts is stored. Groups whose
channel refused the bot are kept in a set (parked) until their thread is brought up to date.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis

from bot.usecases.alert_model import Alert, AlertGroup, AlertNotification
from profbot.errors import RedisUnavailable
from profbot.keys import Keys
from profbot.redis_access import Replication, redis_errors

LEDGER_MAXLEN = 1_000_000
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

    async def record(self, notification: AlertNotification) -> str:
        """Store a notification durably; its group id. Raises RedisUnavailable (the intake's 503)."""
        gid = notification.group_id
        key = self.keys.alert_group(gid)
        now = time.time()
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hsetnx(key, "first_seen", now)
                pipe.hset(
                    key,
                    mapping={
                        "source": notification.source,
                        "group_key": notification.group_key,
                        "status": notification.status,
                        "receiver": notification.receiver,
                        "group_labels": json.dumps(notification.group_labels),
                        "common_labels": json.dumps(notification.common_labels),
                        "common_annotations": json.dumps(notification.common_annotations),
                        "external_url": notification.external_url,
                        "title": notification.title,
                        "last_seen": now,
                    },
                )
                pipe.hincrby(key, "notifications", 1)
                pipe.hset(
                    self.keys.alert_group_alerts(gid),
                    mapping={a.identity: a.model_dump_json() for a in notification.alerts},
                )
                for alert in notification.alerts:
                    pipe.xadd(
                        self.keys.alert_ledger,
                        {"group": gid, "fingerprint": alert.identity, "status": alert.status,
                         "alertname": alert.labels.get("alertname", ""), "at": f"{now:.3f}"},
                        maxlen=LEDGER_MAXLEN, approximate=True,
                    )  # fmt: skip
                # A group lives while it fires, and its retention once resolved: Redis does not grow
                # with every alert ever seen.
                for group_key in self._group_keys(gid):
                    if notification.status == "resolved":
                        pipe.expire(group_key, self.retention_seconds)
                    else:
                        pipe.persist(group_key)
                await pipe.execute()
            async with self.replication.writer(self.redis) as conn:
                await conn.xadd(self.keys.alert_inbox, {"group": gid}, maxlen=INBOX_MAXLEN, approximate=True)
                if not await self.replication.confirmed(conn):
                    raise RedisUnavailable(
                        f"no Redis replica confirmed the alert within {self.replication.timeout_ms} ms"
                    )
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
