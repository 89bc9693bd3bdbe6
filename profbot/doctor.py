"""``profbot doctor``'s checks that belong to the core: what a check is, the settings, Redis."""

from __future__ import annotations

from dataclasses import dataclass

from profbot.embedded_redis import EmbeddedRedis, redis_server
from profbot.errors import ConfigError, RedisUnavailable
from profbot.redis_access import connect_checked
from profbot.settings import CommonSettings, S, load


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None  # what to do about it, when it failed

    def line(self) -> str:
        head = f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}"
        return head if self.ok or not self.fix else f"{head}\n      fix: {self.fix}"


def settings(name: str, cls: type[S]) -> tuple[Check, S | None]:
    try:
        loaded = load(cls)
    except ConfigError as exc:
        fix = "set it in the environment or in .env (every setting: deploy/profbot.env.example, README.md)"
        return Check(f"settings ({name})", False, str(exc), fix), None
    return Check(f"settings ({name})", True, "all valid"), loaded


async def redis(common: CommonSettings) -> Check:
    if common.redis_url is not None:
        try:
            client = await connect_checked(common.redis_url)
        except RedisUnavailable as exc:
            fix = "start that Redis, or unset REDIS_URL to use profbot's own"
            return Check("Redis", False, str(exc), fix)
        await client.aclose()
        return Check("Redis", True, "answers at REDIS_URL")
    embedded = EmbeddedRedis(common.state_dir)
    if await embedded.answers():
        return Check("Redis", True, f"profbot's own, running at {embedded.socket}")
    if redis_server() is None:
        return Check("Redis", False, "REDIS_URL is not set and there is no redis-server to start profbot's own",
                     "apt-get install redis-server, or set REDIS_URL")  # fmt: skip
    return Check("Redis", True, f"profbot's own, started by `profbot up` or any profbot command at {embedded.socket}")
