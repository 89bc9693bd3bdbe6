"""Redis connections, and Redis failures as profbot errors, for the bot and the runners.

A client has bounded timeouts (a lost server becomes an error, never a hang); any Redis or socket
failure met inside :func:`redis_errors` leaves as :class:`~profbot.errors.RedisUnavailable`, the
error users are answered with. Retries of whole calls follow :mod:`profbot.retry`.

With Redis Sentinel (a ``redis+sentinel://`` URL, profbot/sentinel.py) the client asks the
sentinels for the primary on every new connection: after a failover, the call that met the dead
(or demoted: ``READONLY``) primary fails like any lost connection, and the retry reaches the new
one. What must survive a failover is written and then waited on (``WAIT``) until a replica holds
it: :class:`Replication`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.exceptions import RedisError

from profbot.errors import RedisUnavailable
from profbot.sentinel import is_sentinel_url, parse_sentinel_url
from profbot.settings import CommonSettings, without_password

# What a lost or restarting Redis raises: what retries wait out.
REDIS_DOWN: tuple[type[BaseException], ...] = (RedisError, OSError)

# The socket timeout bounds REDIS_WAIT_TIMEOUT_MS (profbot/settings.py): keep the two together.
_TIMEOUTS: dict[str, Any] = {"socket_connect_timeout": 2.0, "socket_timeout": 5.0}
# Sentinels are asked in turn: one that hangs must not hold the others up for long.
_SENTINEL_TIMEOUTS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}


class _OwnSentinelPool(SentinelConnectionPool):
    """A primary's connection pool that closes its sentinel clients with it."""

    async def aclose(self) -> None:
        await super().aclose()
        await self.sentinel_manager.aclose()


def connect(url: str) -> aioredis.Redis:
    """A Redis client with bounded timeouts: a lost server becomes an error, never a hang. A
    ``redis+sentinel://`` URL gives a client of whichever server the sentinels call the primary."""
    if is_sentinel_url(url):
        target = parse_sentinel_url(url)
        sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=dict(_SENTINEL_TIMEOUTS))  # type: ignore[no-untyped-call, unused-ignore]
        client: aioredis.Redis = sentinel.master_for(
            target.master,
            connection_pool_class=_OwnSentinelPool,
            db=target.db,
            username=target.username,
            password=target.password,
            health_check_interval=15,
            decode_responses=True,
            **_TIMEOUTS,
        )
        return client
    return aioredis.Redis.from_url(url, health_check_interval=15, decode_responses=True, **_TIMEOUTS)


@dataclass(frozen=True)
class Replication:
    """How many replicas must hold a write before profbot relies on it, and how long to wait for
    them (``WAIT``). ``acks`` 0: no waiting (one Redis, or replicas not relied on)."""

    acks: int = 0
    timeout_ms: int = 1000

    @classmethod
    def of(cls, settings: CommonSettings, url: str) -> Replication:
        """``REDIS_MIN_REPLICAS_ACKS``, by default 1 with Sentinel and 0 otherwise."""
        acks = settings.redis_min_replicas_acks
        if acks is None:
            acks = 1 if is_sentinel_url(url) else 0
        return cls(acks, settings.redis_wait_timeout_ms)

    @contextlib.asynccontextmanager
    async def writer(self, redis: aioredis.Redis) -> AsyncIterator[aioredis.Redis]:
        """A client whose writes :meth:`confirmed` can wait for: WAIT counts the writes of its own
        connection, so they share one (``redis`` itself when nothing is waited for)."""
        if self.acks <= 0:
            yield redis
            return
        async with redis.client() as conn:
            yield conn

    async def confirmed(self, conn: aioredis.Redis) -> bool:
        """Whether ``acks`` replicas hold every write ``conn`` made, within ``timeout_ms``. Replication
        is in order: what was written before, on any connection, is held too."""
        if self.acks <= 0:
            return True
        return int(await conn.wait(self.acks, self.timeout_ms)) >= self.acks


async def connect_checked(url: str) -> aioredis.Redis:
    """A client that has answered a PING, or one clear RedisUnavailable (no password in it)."""
    redis = connect(url)
    try:
        await redis.ping()
    except REDIS_DOWN as exc:
        await redis.aclose()
        raise RedisUnavailable(f"cannot reach Redis at {without_password(url)}: {exc}") from None
    return redis


@contextlib.contextmanager
def redis_errors() -> Iterator[None]:
    """Any Redis or socket failure inside becomes RedisUnavailable, which callers answer users with."""
    try:
        yield
    except REDIS_DOWN as exc:
        raise RedisUnavailable(f"Redis unavailable: {exc}") from exc
