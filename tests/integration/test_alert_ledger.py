"""The alert ledger on a real Redis: a group lives as long as it fires, and its retention once
resolved, so Redis does not keep every alert ever received; notifications written together are each
kept (a re-sent group is one group, a re-sent alert one alert), or refused alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.stores.alert_ledger import RedisAlertLedger
from bot.usecases.alert_model import Alert, AlertNotification
from profbot.errors import RedisUnavailable
from profbot.keys import Keys
from profbot.redis_access import connect
from tests.rig.redis_rig import PrivateRedis

RETENTION = 3 * 86400


def notification(status: str) -> AlertNotification:
    alert = Alert(status=status, labels={"alertname": "PyroscopeDown", "instance": "pyroscope:4040"}, fingerprint="f1")
    return AlertNotification(
        source="alertmanager", group_key='{}:{alertname="PyroscopeDown"}', status=status, alerts=[alert],
        group_labels={"alertname": "PyroscopeDown"},
    )  # fmt: skip


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = connect(redis_url)
    yield client
    await client.aclose()


async def test_a_resolved_group_is_kept_for_its_retention_and_one_firing_again_for_as_long_as_it_fires(
    redis: aioredis.Redis, prefix: str
) -> None:
    ledger, keys = RedisAlertLedger(redis, prefix, retention_seconds=RETENTION), Keys(prefix)
    gid = await ledger.record(notification("firing"))
    await ledger.announce(gid, ["f1"])
    group_keys = [keys.alert_group(gid), keys.alert_group_alerts(gid), keys.alert_group_announced(gid)]
    assert [await redis.ttl(k) for k in group_keys] == [-1, -1, -1]  # firing: kept

    await ledger.record(notification("resolved"))
    ttls = [await redis.ttl(k) for k in group_keys]
    assert all(RETENTION - 5 <= ttl <= RETENTION for ttl in ttls), ttls

    await ledger.record(notification("firing"))  # fired again: kept again, however long it fires
    assert [await redis.ttl(k) for k in group_keys] == [-1, -1, -1]
    group = await ledger.group(gid)
    assert group is not None and group.notifications == 3


def sent(name: str, instance: str, status: str = "firing") -> AlertNotification:
    """Alertmanager's notification for group ``name``, with its alert on ``instance``."""
    alert = Alert(status=status, labels={"alertname": name, "instance": instance}, fingerprint=f"{name}-{instance}")
    return AlertNotification(
        source="alertmanager", group_key=f'{{}}:{{alertname="{name}"}}', status=status, alerts=[alert],
        group_labels={"alertname": name}, common_labels={"alertname": name, "team": "é 🔥"},
    )  # fmt: skip


async def test_notifications_arriving_together_are_each_kept_and_re_sent_groups_and_alerts_are_one(
    redis: aioredis.Redis, prefix: str
) -> None:
    ledger, keys = RedisAlertLedger(redis, prefix), Keys(prefix)
    # 3 groups, each re-sent 100 times, its alerts on 10 instances re-sent 10 times each: all at once.
    burst = [sent(f"Burst{i % 3}", f"host-{i % 10}:9100") for i in range(300)]
    gids = await asyncio.gather(*(ledger.record(n) for n in burst))

    assert gids == [n.group_id for n in burst]
    assert len(set(gids)) == 3
    for gid in set(gids):
        group = await ledger.group(gid)
        assert group is not None
        assert group.notifications == 100
        assert len(group.alerts) == 10
        assert group.common_labels == {"alertname": group.alertname, "team": "é 🔥"}
    assert await redis.xlen(keys.alert_ledger) == 300  # every alert received, in the ledger
    assert await redis.xlen(keys.alert_inbox) == 300  # and one inbox entry per notification


async def test_an_alert_redis_refuses_fails_alone_and_those_written_with_it_are_kept(
    redis: aioredis.Redis, prefix: str
) -> None:
    ledger, keys = RedisAlertLedger(redis, prefix), Keys(prefix)
    refused = sent("Refused", "a:1")
    await redis.set(keys.alert_group(refused.group_id), "not a hash")  # WRONGTYPE for its script
    others = [sent(f"Kept{i}", "a:1") for i in range(5)]
    answers = await asyncio.gather(*(ledger.record(n) for n in [*others[:2], refused, *others[2:]]),
                                   return_exceptions=True)  # fmt: skip

    assert isinstance(answers[2], RedisUnavailable)  # the intake's 503: Alertmanager sends it again
    assert [a for i, a in enumerate(answers) if i != 2] == [n.group_id for n in others]
    for n in others:
        group = await ledger.group(n.group_id)
        assert group is not None and group.notifications == 1


async def test_a_redis_that_lost_the_ledgers_script_takes_the_next_notification() -> None:
    private = PrivateRedis().start()  # SCRIPT FLUSH empties every script of a Redis: not the shared one's
    client = connect(private.url)
    try:
        ledger = RedisAlertLedger(client, "p")
        await ledger.record(sent("BeforeTheFlush", "a:1"))
        await client.script_flush()  # what a restart or a failover to a new primary does
        gids = await asyncio.gather(*(ledger.record(sent(f"AfterTheFlush{i}", "a:1")) for i in range(3)))
        for gid in gids:
            group = await ledger.group(gid)
            assert group is not None and group.notifications == 1
    finally:
        await client.aclose()
        private.close()
