"""Redis connections, and Redis failures as profbot errors, for the bot and the runners.

A client has bounded timeouts (a lost server becomes an error, never a hang); any Redis or socket
failure met inside :func:`redis_errors` leaves as :class:`~profbot.errors.RedisUnavailable`, the
error users are answered with. Retries of whole calls follow :mod:`profbot.retry`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from profbot.errors import RedisUnavailable
from profbot.settings import without_password

# What a lost or restarting Redis raises: what retries wait out.
REDIS_DOWN: tuple[type[BaseException], ...] = (RedisError, OSError)


def connect(url: str) -> aioredis.Redis:
    """A Redis client with bounded timeouts: a lost server becomes an error, never a hang."""
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        health_check_interval=15,
        decode_responses=True,
    )


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
