"""profbot's own Redis (a child redis-server on a unix socket), shared by the processes that use it.
``flock`` locks belong to each opened file, so two EmbeddedRedis in one test take the locks as two
processes would."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from profbot.embedded_redis import EmbeddedRedis, state_dir_ready
from profbot.errors import ConfigError


async def test_the_last_user_to_leave_stops_it_and_what_it_held_comes_back(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first, second = EmbeddedRedis(state), EmbeddedRedis(state)
    url = await first.start()
    assert await second.start() == url and first.owned and not second.owned
    assert (state.stat().st_mode & 0o777) == 0o700

    client = aioredis.Redis.from_url(url)
    try:
        await client.set("pending", "request-1")
        await first.stop()  # the one that started it leaves first: the other still uses it
        assert await client.get("pending") == b"request-1"
    finally:
        await client.aclose()

    await second.stop()  # the last one: the server goes, its append-only file written
    assert not await second.answers()

    again = EmbeddedRedis(state)
    client = aioredis.Redis.from_url(await again.start())
    try:
        assert await client.get("pending") == b"request-1"
    finally:
        await client.aclose()
        await again.stop()
    assert not await again.answers()


def test_a_state_directory_anyone_may_write_in_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    with pytest.raises(ConfigError, match=r"PROFBOT_STATE_DIR is invalid .*anyone may write in it"):
        state_dir_ready(shared)
    team = tmp_path / "team"
    team.mkdir()
    team.chmod(0o770)  # its group could put a socket of theirs in Redis's place too
    with pytest.raises(ConfigError, match=r"PROFBOT_STATE_DIR is invalid .*its group may write in it"):
        state_dir_ready(team)
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o750)
    assert state_dir_ready(mine) == mine and (mine.stat().st_mode & 0o777) == 0o750  # kept as its owner set it
