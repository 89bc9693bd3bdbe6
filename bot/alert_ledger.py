"""The alert ledger in Redis: every alert received, each group's state and its Slack thread.

A webhook is written in one MULTI/EXEC: the group's fields, each alert under its fingerprint, one
entry per alert in the ledger stream, and one entry in the inbox stream that the poster
(bot/alert_threads.py) reads. Only after EXEC does the intake answer 2xx, so an acknowledged alert
is stored; Slack is never on the intake's path.

Keys (``P`` = the prefix; ``G`` = the group id, a hash of source and groupKey)::

    P:alerts:group:G            hash   source, group_key, status, labels..., thread_ts, ...
    P:alerts:group:G:alerts     hash   fingerprint -> the alert's latest JSON
    P:alerts:group:G:announced  set    fingerprints already shown in the thread
    P:alerts:ledger             stream one entry per alert received
    P:alerts:inbox              stream one entry per webhook: the group to bring up to date in Slack
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel

from bot.alert_payloads import AlertIn, Source, WebhookIn
from profbot.bus import redis_errors

LEDGER_MAXLEN = 1_000_000
INBOX_MAXLEN = 100_000


class AlertGroup(BaseModel):
    id: str
    source: Source
    group_key: str
    status: str
    receiver: str = ""
    group_labels: dict[str, str] = {}
    common_labels: dict[str, str] = {}
    common_annotations: dict[str, str] = {}
    external_url: str = ""
    title: str = ""
    first_seen: float
    last_seen: float
    notifications: int
    thread_ts: str | None = None
    channel: str | None = None
    resolved_at: float | None = None
    resolved_posted: bool = False
    alerts: dict[str, AlertIn] = {}

    @property
    def alertname(self) -> str:
        return self.group_labels.get("alertname") or self.common_labels.get("alertname") or self.title or "alert"

    def merged_labels(self) -> tuple[dict[str, str], dict[str, str]]:
        """Labels and annotations of the group, over those of its alerts: a ``runbook_id`` or a
        ``service`` set on one alert counts for the group."""
        labels, annotations = {**self.common_labels, **self.group_labels}, dict(self.common_annotations)
        for alert in sorted(self.alerts.values(), key=lambda a: a.identity):
            labels, annotations = {**alert.labels, **labels}, {**alert.annotations, **annotations}
        return labels, annotations

    @property
    def firing(self) -> list[AlertIn]:
        return [a for a in self.alerts.values() if a.status == "firing"]

    @property
    def started(self) -> datetime | None:
        starts = [a.startsAt for a in self.alerts.values() if a.startsAt and a.startsAt.year > 1]
        return min(starts) if starts else None


def group_id(source: Source, group_key: str) -> str:
    return hashlib.sha256(f"{source}\0{group_key}".encode()).hexdigest()[:20]


class AlertLedger:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ledger = f"{prefix}:alerts:ledger"
        self.inbox = f"{prefix}:alerts:inbox"

    def group_key(self, gid: str) -> str:
        return f"{self.prefix}:alerts:group:{gid}"

    async def record(self, source: Source, payload: WebhookIn) -> str:
        """Store a webhook durably; its group id. Raises RedisUnavailable (the intake's 503)."""
        gid = group_id(source, payload.groupKey)
        key = self.group_key(gid)
        now = time.time()
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hsetnx(key, "first_seen", now)
                pipe.hset(
                    key,
                    mapping={
                        "source": source,
                        "group_key": payload.groupKey,
                        "status": payload.status,
                        "receiver": payload.receiver,
                        "group_labels": json.dumps(payload.groupLabels),
                        "common_labels": json.dumps(payload.commonLabels),
                        "common_annotations": json.dumps(payload.commonAnnotations),
                        "external_url": payload.externalURL,
                        "title": payload.title,
                        "last_seen": now,
                    },
                )
                pipe.hincrby(key, "notifications", 1)
                pipe.hset(f"{key}:alerts", mapping={a.identity: a.model_dump_json() for a in payload.alerts})
                for alert in payload.alerts:
                    pipe.xadd(
                        self.ledger,
                        {"group": gid, "fingerprint": alert.identity, "status": alert.status,
                         "alertname": alert.labels.get("alertname", ""), "at": f"{now:.3f}"},
                        maxlen=LEDGER_MAXLEN, approximate=True,
                    )  # fmt: skip
                pipe.xadd(self.inbox, {"group": gid}, maxlen=INBOX_MAXLEN, approximate=True)
                await pipe.execute()
        return gid

    async def group(self, gid: str) -> AlertGroup | None:
        key = self.group_key(gid)
        with redis_errors():
            async with self.redis.pipeline(transaction=True) as pipe:  # one round trip, one snapshot
                pipe.hgetall(key)
                pipe.hgetall(f"{key}:alerts")
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
            alerts={fp: AlertIn.model_validate_json(raw) for fp, raw in alerts.items()},
        )

    async def set_fields(self, gid: str, **fields: Any) -> None:
        with redis_errors():
            await self.redis.hset(self.group_key(gid), mapping={k: str(v) for k, v in fields.items()})

    async def clear_fields(self, gid: str, *names: str) -> None:
        with redis_errors():
            await self.redis.hdel(self.group_key(gid), *names)

    async def announced(self, gid: str) -> set[str]:
        with redis_errors():
            return {str(fp) for fp in await self.redis.smembers(f"{self.group_key(gid)}:announced")}

    async def announce(self, gid: str, fingerprints: list[str]) -> None:
        if fingerprints:
            with redis_errors():
                await self.redis.sadd(f"{self.group_key(gid)}:announced", *fingerprints)

    async def claim_diagnosis(self, gid: str, cooldown: float) -> bool:
        """True once per cooldown per group: whether this sighting should run the diagnosis."""
        if cooldown <= 0:
            return True
        with redis_errors():
            return bool(
                await self.redis.set(f"{self.group_key(gid)}:diagnosed", "1", nx=True, ex=max(1, int(cooldown)))
            )
