"""The audit trail, offers, health records and home viewers: each fake answers as its Redis store."""

from __future__ import annotations

import time

from bot.usecases.home_model import HealthSeen
from bot.usecases.ports import AuditTrail, HealthRecords, HomeViewers, OfferStore
from handlers.findings import Remediation
from profbot.audit import AuditEvent, AuditKind
from profbot.ops.contract import OpKind


async def test_the_audit_trail_reads_newest_first(audit_trail: AuditTrail) -> None:
    for actor in ("U1", "U2", "U3"):
        await audit_trail.append(AuditEvent(kind=AuditKind.REQUESTED, actor=actor))
    assert [e.actor for e in await audit_trail.latest(2)] == ["U3", "U2"]


async def test_an_offer_comes_back_as_it_was_kept(offers: OfferStore) -> None:
    remedy = Remediation(
        procedure="INC-PROF-004", action="purge", label="Delete volume pyroscope_data", kind=OpKind.DESTROY,
        impact="all stored profiles are lost", host="h1", target="pyroscope_data", params={"volume": "pyroscope_data"},
    )  # fmt: skip
    offer_id = await offers.put(remedy)
    assert await offers.get(offer_id) == remedy
    assert await offers.get(offer_id + "x") is None


async def test_the_latest_health_per_host_replaces_the_one_before(health_records: HealthRecords) -> None:
    def seen(host: str, summary: str) -> HealthSeen:
        return HealthSeen(host=host, verdict="ok", summary=summary, at=time.time(), procedure="HEALTH")

    await health_records.record(seen("h1", "first"))
    await health_records.record(seen("h2", "other host"))
    await health_records.record(seen("h1", "second"))
    latest = await health_records.latest()
    assert {host: s.summary for host, s in latest.items()} == {"h1": "second", "h2": "other host"}


async def test_home_viewers_are_those_who_opened_since(home_viewers: HomeViewers) -> None:
    now = time.time()
    await home_viewers.opened("U1", now - 600)
    await home_viewers.opened("U2", now - 10)
    assert await home_viewers.recent(now - 60) == {"U2"}
    await home_viewers.opened("U1", now)
    assert await home_viewers.recent(now - 60) == {"U1", "U2"}
