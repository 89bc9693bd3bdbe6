"""Each port's in-memory fake (tests/unit/fakes.py) and its Redis store answer the same tests, so
the fakes the use-case unit tests trust cannot drift from what production runs. A fixture here
yields one implementation per parameter: ``fake`` or ``redis`` (the real store on real Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from bot.stores.home import RedisHealthRecords, RedisHomeViewers
from bot.stores.offers import RedisOfferStore
from bot.usecases.ports import AuditTrail, ChangeStore, HealthRecords, HomeViewers, OfferStore
from profbot.approvals.store import ApprovalStore
from profbot.audit import AuditLog
from profbot.redis_access import connect
from tests.unit.fakes import (
    FakeAuditTrail,
    FakeChangeStore,
    FakeHealthRecords,
    FakeHomeViewers,
    FakeOfferStore,
)

KINDS = ["fake", "redis"]


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = connect(redis_url)
    yield redis
    await redis.aclose()


@dataclass
class Changes:
    """A change store and the audit trail its audited writes land in."""

    store: ChangeStore
    trail: AuditTrail


@pytest.fixture(params=KINDS)
def changes(request: pytest.FixtureRequest, client: aioredis.Redis, prefix: str) -> Changes:
    if request.param == "fake":
        trail = FakeAuditTrail()
        return Changes(FakeChangeStore(trail=trail), trail)
    return Changes(ApprovalStore(client, prefix), AuditLog(client, prefix))


@pytest.fixture(params=KINDS)
def audit_trail(request: pytest.FixtureRequest, client: aioredis.Redis, prefix: str) -> AuditTrail:
    return FakeAuditTrail() if request.param == "fake" else AuditLog(client, prefix)


@pytest.fixture(params=KINDS)
def offers(request: pytest.FixtureRequest, client: aioredis.Redis, prefix: str) -> OfferStore:
    return FakeOfferStore() if request.param == "fake" else RedisOfferStore(client, prefix)


@pytest.fixture(params=KINDS)
def health_records(request: pytest.FixtureRequest, client: aioredis.Redis, prefix: str) -> HealthRecords:
    return FakeHealthRecords() if request.param == "fake" else RedisHealthRecords(client, prefix)


@pytest.fixture(params=KINDS)
def home_viewers(request: pytest.FixtureRequest, client: aioredis.Redis, prefix: str) -> HomeViewers:
    return FakeHomeViewers() if request.param == "fake" else RedisHomeViewers(client, prefix)
