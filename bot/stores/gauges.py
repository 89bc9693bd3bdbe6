"""The gauges read from Redis when Prometheus scrapes ``/metrics`` (profbot/metrics.py): each
runner's heartbeat age, the alert inbox's lag, and the change requests by state.

Each scrape costs a bounded amount: one HGETALL, at most three stream commands, and a SCAN that
stops after ``MAX_SCAN_CALLS`` calls (requests are kept 30 days; past that many keys in the
database the counts are of the requests found so far).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from bot.stores.alert_inbox import POSTER_GROUP
from profbot.approvals.model import RequestState
from profbot.keys import Keys
from profbot.metrics import ALERT_INBOX_LAG, CHANGE_REQUESTS, RUNNER_HEARTBEAT_AGE

SCAN_COUNT = 1000
MAX_SCAN_CALLS = 100  # at most 100 000 keys looked at a scrape


def _stream_id_seconds(entry_id: str) -> float:
    return int(entry_id.split("-", 1)[0]) / 1000


class ScrapeGauges:
    def __init__(self, redis: aioredis.Redis, prefix: str, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.clock = clock

    async def refresh(self) -> None:
        """Set the gauges from Redis as it is now; Redis errors leave them as they were."""
        await self.heartbeat_ages()
        await self.inbox_lag()
        await self.change_requests()

    async def heartbeat_ages(self) -> None:
        raw = await self.redis.hgetall(self.keys.runners)
        now = self.clock()
        ages: dict[str, float] = {}
        for host, doc in raw.items():
            try:
                ages[str(host)] = max(0.0, now - float(json.loads(doc)["last_seen"]))
            except (ValueError, KeyError, TypeError):
                continue  # not a heartbeat this version reads
        RUNNER_HEARTBEAT_AGE.clear()  # a host removed from the hash leaves the gauge too
        for host, age in ages.items():
            RUNNER_HEARTBEAT_AGE.labels(host).set(age)

    async def inbox_lag(self) -> None:
        """The age of the oldest notification not yet posted: the oldest the posters took and did
        not acknowledge, else the first they have not taken yet."""
        stream = self.keys.alert_inbox
        try:
            pending = await self.redis.xpending(stream, POSTER_GROUP)
            if pending["pending"]:
                oldest: str | None = str(pending["min"])
            else:
                groups = await self.redis.xinfo_groups(stream)
                last = next((g["last-delivered-id"] for g in groups if g["name"] == POSTER_GROUP), "0-0")
                after = await self.redis.xrange(stream, min=f"({last}", count=1)
                oldest = str(after[0][0]) if after else None
        except ResponseError:  # no stream or no poster group yet: every entry is waiting
            first = await self.redis.xrange(self.keys.alert_inbox, count=1)
            oldest = str(first[0][0]) if first else None
        ALERT_INBOX_LAG.set(max(0.0, self.clock() - _stream_id_seconds(oldest)) if oldest else 0.0)

    async def change_requests(self) -> None:
        prefix = self.keys.change("")
        ids: list[str] = []
        cursor = 0
        for _ in range(MAX_SCAN_CALLS):
            cursor, found = await self.redis.scan(cursor, match=f"{prefix}*", count=SCAN_COUNT, _type="HASH")
            ids.extend(str(key) for key in found if ":" not in str(key).removeprefix(prefix))
            if cursor == 0:
                break
        states: Counter[str] = Counter()
        for start in range(0, len(ids), SCAN_COUNT):
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in ids[start : start + SCAN_COUNT]:
                    pipe.hget(key, "state")
                states.update(str(state) for state in await pipe.execute() if state)
        for state in RequestState:
            CHANGE_REQUESTS.labels(state.value).set(states[state.value])
