"""``profbot doctor``'s checks that belong to the core: what a check is, the settings, Redis."""

from __future__ import annotations

import os
from dataclasses import dataclass

from profbot.embedded_redis import MAX_SOCKET_PATH, EmbeddedRedis, redis_server, state_dir_ready
from profbot.errors import ConfigError, RedisUnavailable
from profbot.redis_access import connect_checked
from profbot.settings import CommonSettings, S, load, slack_presence


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
    if len(os.fsencode(embedded.socket)) > MAX_SOCKET_PATH:
        return Check("Redis", False, f"{embedded.socket} is too long for a unix socket",
                     "set PROFBOT_STATE_DIR to a shorter path (under 95 characters)")  # fmt: skip
    if await embedded.answers():
        return Check("Redis", True, f"profbot's own, running at {embedded.socket}")
    try:
        state_dir_ready(common.state_dir)
    except ConfigError as exc:
        return Check(
            "Redis", False, str(exc), "set PROFBOT_STATE_DIR to a directory profbot may write, or set REDIS_URL"
        )
    if redis_server() is None:
        return Check("Redis", False, "REDIS_URL is not set and there is no redis-server to start profbot's own",
                     "apt-get install redis-server, or set REDIS_URL")  # fmt: skip
    return Check("Redis", True, f"profbot's own, started by `profbot up` or any profbot command at {embedded.socket}")


def half_configured_slack() -> list[Check]:
    """A bot token without what serves it: `profbot up` would fall back to the shell, silently."""
    given = slack_presence()
    if given.slack_bot_token and not (given.slack_app_token or given.slack_signing_secret):
        detail = "SLACK_BOT_TOKEN is set, but neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET"
        fix = "set SLACK_APP_TOKEN (Socket Mode; README: Set Slack up) or SLACK_SIGNING_SECRET (HTTP)"
        return [Check("Slack", False, detail, fix)]
    return []
