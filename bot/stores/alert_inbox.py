"""What feeds the alert threads: the ledger's inbox stream, read through a consumer group that
any number of bot replicas share, one replica per alert group at a time (a redis-py Lock).

Entries are grouped by alert group, so a storm of notifications for one group is one update; an
entry is acknowledged only after its group's thread is up to date, or the group was parked because
the channel refuses the bot (its state stays in the ledger; the poster brings parked groups up to
date once the channel takes the bot: bot/usecases/alerts.py). When the front end or Redis is down
the poster waits and carries on from the oldest unacknowledged entry, in order (profbot/streams.py).

No group stalls the others. A group another replica holds is left pending and comes back, while
new entries are read beside it; the lock lives 30 s and is renewed while its holder works, so a
replica that dies holds it 30 s at most. A group whose update fails for a reason other than an
outage (a bug, an entry no code can handle) is tried again, 1, 2, 4 and 8 s later, then its
entries move to a dead-letter stream, an audit event says so (``/prof audit``) and a counter
counts it, and the poster goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol

import redis.asyncio as aioredis
import structlog
from redis.exceptions import LockError

from profbot.audit import AuditEvent, AuditKind, AuditLog
from profbot.errors import ProfbotError
from profbot.keys import Keys
from profbot.metrics import ALERT_DEAD_LETTERS
from profbot.streams import EXPECTED_OUTAGES, Entries, GroupConsumer

log = structlog.get_logger("profbot.alerts")

POSTER_GROUP = "slack-posters"
LOCK_SECONDS = 30.0  # a dead holder's lock lapses this soon
LOCK_RENEW_SECONDS = 10.0  # a live holder renews it this often, however long its update takes
MAX_TRIES = 5  # updates of a group failing for a reason other than an outage, before dead-lettering
HELD_ELSEWHERE_PAUSE = 1.0  # nothing done in a batch (its groups held by others): not a busy loop
DEAD_LETTER_MAXLEN = 10_000
RENEWAL_FAILURES: tuple[type[BaseException], ...] = (LockError, *EXPECTED_OUTAGES)


class Poster(Protocol):
    """What brings the alert threads up to date (bot/usecases/alerts.py ``AlertThreads``)."""

    async def sync(self, gid: str) -> object: ...

    def wake(self) -> None: ...

    async def parked_due(self) -> list[str]: ...


class AlertInbox:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.entries = GroupConsumer(
            redis, self.keys.alert_inbox, POSTER_GROUP, start_id="0", count=500, new_with_pending=True
        )
        self.audit = AuditLog(redis, prefix)

    async def serve(self, stop: asyncio.Event, poster: Poster) -> None:
        newest = (0, 0)  # the newest entry seen: only new ones wake a channel that refused the bot
        retry_at: dict[str, float] = {}  # a failing group waits 1, 2, 4, 8 s between its tries

        async def handle(batch: Entries) -> None:
            nonlocal newest
            order: dict[str, list[str]] = {}
            for entry_id, fields in batch:
                order.setdefault(str(fields["group"]), []).append(entry_id)
            latest = max((_stream_id(entry_id) for entry_id, _ in batch), default=(0, 0))
            if latest > newest:
                newest = latest
                poster.wake()  # something new: a channel that refused the bot is tried again, once
            handled = 0
            for gid, entry_ids in order.items():
                if retry_at.get(gid, 0.0) > time.monotonic():
                    continue
                if await self._update(gid, entry_ids, poster, retry_at):
                    handled += 1
            for gid in await poster.parked_due():
                await self._update(gid, [], poster, retry_at)
            if order and not handled:
                await asyncio.sleep(HELD_ELSEWHERE_PAUSE)

        await self.entries.serve(stop, handle, "alert_post")

    async def _update(self, gid: str, entry_ids: list[str], poster: Poster, retry_at: dict[str, float]) -> bool:
        """Bring one group up to date and acknowledge its entries; whether it was handled (not
        held by another replica, nor failing and waiting)."""
        try:
            if not await self._synced(gid, poster):
                return False  # another replica is on it: our entries stay pending and come back
        except EXPECTED_OUTAGES:
            raise  # Slack or Redis away: the consumer waits, then carries on in order
        except Exception as exc:  # a bug must not stall every other group
            log.exception("alert_group_update_failed", group=gid)
            tries = await self._failed(gid, entry_ids, exc)
            retry_at[gid] = time.monotonic() + 2 ** min(tries - 1, 3) if tries < MAX_TRIES else 0.0
            return True
        retry_at.pop(gid, None)
        await self.entries.ack(*entry_ids)
        await self.redis.hdel(self.keys.alert_failures, gid)
        return True

    async def _failed(self, gid: str, entry_ids: list[str], exc: Exception) -> int:
        """Count a failed update of ``gid``; at ``MAX_TRIES`` set its entries aside. The count."""
        tries = int(await self.redis.hincrby(self.keys.alert_failures, gid, 1))
        if tries < MAX_TRIES:
            return tries
        error = f"{type(exc).__name__}: {exc}"[:500]
        async with self.redis.pipeline(transaction=True) as pipe:
            for entry_id in entry_ids or ["(parked: no entry pending)"]:
                pipe.xadd(
                    self.keys.alert_dead_letters, {"group": gid, "entry": entry_id, "error": error},
                    maxlen=DEAD_LETTER_MAXLEN, approximate=True,
                )  # fmt: skip
            if entry_ids:
                pipe.xack(self.keys.alert_inbox, POSTER_GROUP, *entry_ids)
            pipe.hdel(self.keys.alert_failures, gid)
            await pipe.execute()
        ALERT_DEAD_LETTERS.inc(len(entry_ids))
        log.error("alert_entries_dead_lettered", group=gid, entries=len(entry_ids), tries=tries, error=error)
        await self.redis.srem(self.keys.alert_parked, gid)  # a parked group that cannot be updated either
        with contextlib.suppress(ProfbotError):  # the dead letters are kept whether or not this is
            await self.audit.append(
                AuditEvent(
                    kind=AuditKind.DEAD_LETTER, target=f"alert group {gid}",
                    outcome=f"{len(entry_ids)} notification(s) not posted after {tries} tries ({error}); kept in "
                    f"{self.keys.alert_dead_letters}",
                )
            )  # fmt: skip
        return tries

    async def _synced(self, gid: str, poster: Poster) -> bool:
        """Bring ``gid`` up to date under its lock, renewed while it works; False when another
        replica holds it."""
        # A Lock object per group and batch, so its token is this task's alone.
        lock = self.redis.lock(self.keys.alert_group_lock(gid), timeout=LOCK_SECONDS, thread_local=False)
        if not await lock.acquire(blocking=False):  # held: the groups after it are not kept waiting
            return False
        renewing = asyncio.create_task(_keep(lock, gid), name=f"alert-lock-{gid[:8]}")
        try:
            await poster.sync(gid)
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            try:
                await lock.release()
            except LockError:  # it lapsed and another took it: nothing of ours to release
                log.warning("alert_lock_lost", group=gid)
        return True


def _stream_id(entry_id: str) -> tuple[int, int]:
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)


async def _keep(lock: aioredis.lock.Lock, gid: str) -> None:
    started = time.monotonic()
    while True:
        await asyncio.sleep(LOCK_RENEW_SECONDS)
        try:
            await lock.reacquire()
        except RENEWAL_FAILURES:
            log.warning("alert_lock_not_renewed", group=gid, held_for=round(time.monotonic() - started, 1))
