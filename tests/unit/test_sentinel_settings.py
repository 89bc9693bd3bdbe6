"""Redis Sentinel as people configure it: REDIS_SENTINELS and REDIS_SENTINEL_MASTER, or a
redis+sentinel:// URL, and how many replicas a write waits for."""

from __future__ import annotations

from pathlib import Path

import pytest

from profbot.errors import ConfigError
from profbot.redis_access import Replication, connect
from profbot.sentinel import SentinelTarget, parse_sentinel_url
from profbot.settings import RunnerSettings, load, without_password

REDIS = ("REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER", "REDIS_MIN_REPLICAS_ACKS", "REDIS_WAIT_TIMEOUT_MS")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """The process environment as a test sets it (settings are read from it), in a folder without .env."""
    for name in REDIS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("redis+sentinel://10.0.0.1:26379,10.0.0.2:26380/mymaster",
         SentinelTarget((("10.0.0.1", 26379), ("10.0.0.2", 26380)), "mymaster")),
        ("redis+sentinel://:s%40cr%2Ft@h1:26379/pyro.main/2",
         SentinelTarget((("h1", 26379),), "pyro.main", 2, None, "s@cr/t")),
        ("redis+sentinel://profbot:pw@[::1]:26379,h2:1/m",
         SentinelTarget((("::1", 26379), ("h2", 1)), "m", 0, "profbot", "pw")),
    ],
)  # fmt: skip
def test_a_sentinel_url_names_the_sentinels_the_primary_and_its_credentials(url: str, target: SentinelTarget) -> None:
    assert parse_sentinel_url(url) == target


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("redis+sentinel://h1:26379", "must name the primary"),
        ("redis+sentinel://h1:26379/", "must name the primary"),
        ("redis+sentinel://h1/mymaster", "'h1' is not HOST:PORT"),
        ("redis+sentinel://h1:99999/mymaster", "is not HOST:PORT"),
        ("redis+sentinel://h1:26379,/mymaster", "'' is not HOST:PORT"),
        ("redis+sentinel://h1:26379/mymaster/zero", "database 'zero' is not a number"),
        ("redis+sentinel://h1:26379/mymaster?ssl=true", "takes no \\?options"),
    ],
)
def test_a_wrong_sentinel_url_says_what_is_wrong(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_sentinel_url(url)


def test_the_sentinels_and_their_primary_become_the_redis_url(env: pytest.MonkeyPatch) -> None:
    env.setenv("REDIS_SENTINELS", "10.0.0.1:26379, 10.0.0.2:26379,10.0.0.3:26379")
    env.setenv("REDIS_SENTINEL_MASTER", "mymaster")
    settings = load(RunnerSettings)
    assert settings.redis_url == "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379/mymaster"
    assert Replication.of(settings, settings.redis_url) == Replication(acks=1, timeout_ms=1000)


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"REDIS_SENTINELS": "h1:26379"}, "REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together"),
        ({"REDIS_SENTINEL_MASTER": "mymaster"}, "REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together"),
        ({"REDIS_SENTINELS": "h1", "REDIS_SENTINEL_MASTER": "m"}, r"REDIS_SENTINELS is invalid \('h1' is not HOST"),
        ({"REDIS_SENTINELS": "h1:1", "REDIS_SENTINEL_MASTER": "m", "REDIS_URL": "redis://h:6379/0"},
         "REDIS_URL and REDIS_SENTINELS are both set"),
        ({"REDIS_URL": "redis+sentinel://h1:26379"}, "REDIS_URL is invalid .*must name the primary"),
        ({"REDIS_URL": "sentinel://h1:26379/m"}, "REDIS_URL is invalid .*redis\\+sentinel://"),
        ({"REDIS_MIN_REPLICAS_ACKS": "-1"}, "REDIS_MIN_REPLICAS_ACKS is invalid"),
    ],
)  # fmt: skip
def test_a_sentinel_setting_that_cannot_work_stops_the_process_naming_it(
    env: pytest.MonkeyPatch, given: dict[str, str], named: str
) -> None:
    for name, value in given.items():
        env.setenv(name, value)
    with pytest.raises(ConfigError, match=named):
        load(RunnerSettings)


def test_replicas_are_waited_for_with_sentinel_unless_told_otherwise(env: pytest.MonkeyPatch) -> None:
    env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    plain = load(RunnerSettings)
    assert Replication.of(plain, "redis://127.0.0.1:6379/0").acks == 0  # one Redis: nothing to wait for
    env.setenv("REDIS_URL", "redis+sentinel://:pw@h1:26379/m")
    env.setenv("REDIS_MIN_REPLICAS_ACKS", "0")
    env.setenv("REDIS_WAIT_TIMEOUT_MS", "250")
    told = load(RunnerSettings)
    assert Replication.of(told, str(told.redis_url)) == Replication(acks=0, timeout_ms=250)


def test_a_wait_longer_than_the_socket_timeout_is_refused_at_start(env: pytest.MonkeyPatch) -> None:
    # A WAIT the socket gives up on would be retried by redis-py with the writes before it.
    env.setenv("REDIS_URL", "redis+sentinel://:pw@h1:26379/m")
    env.setenv("REDIS_WAIT_TIMEOUT_MS", "10000")
    with pytest.raises(ConfigError, match="REDIS_WAIT_TIMEOUT_MS"):
        load(RunnerSettings)


def test_a_sentinel_urls_password_stays_out_of_logs() -> None:
    assert (
        without_password("redis+sentinel://:hunter2@h1:26379,h2:26379/m") == "redis+sentinel://:***@h1:26379,h2:26379/m"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pa/ss@h1:6379/0", "redis://:***@h1:6379/0"),
        ("redis://user:p@ss@h1:6379", "redis://user:***@h1:6379"),
        ("rediss://default:a/b@c/d@redis.internal:6380/2", "rediss://default:***@redis.internal:6380/2"),
        ("redis://h1:6379/0", "redis://h1:6379/0"),
    ],
)
def test_a_password_holding_slash_or_at_is_hidden_whole(url: str, shown: str) -> None:
    assert without_password(url) == shown
    assert without_password(f"Error connecting to {url}: refused") == f"Error connecting to {shown}: refused"


async def test_a_sentinel_client_asks_for_the_named_primary_with_its_password() -> None:
    client = connect("redis+sentinel://:pw@127.0.0.1:1,127.0.0.1:2/mymaster/3")
    pool = client.connection_pool
    assert pool.connection_kwargs["password"] == "pw" and pool.connection_kwargs["db"] == 3
    assert getattr(pool, "service_name", None) == "mymaster"
    await client.aclose()
