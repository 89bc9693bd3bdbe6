"""The alert ledger on a real Redis: a group lives as long as it fires, and its retention once
resolved, so Redis does not keep every alert ever received."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.stores.alert_ledger import RedisAlertLedger
from bot.usecases.alert_model import Alert, AlertNotification
from profbot.keys import Keys
from profbot.redis_access import connect

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
