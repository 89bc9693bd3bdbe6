"""The data volume's growth history from Pyroscope's own blocks, merged with profbot's samples.

Each block's meta.json says which time range its data covers and how many bytes it holds; a
block's bytes are spread evenly over its range (a compacted block covers many hours, or days), so
the bytes stored by each moment make a curve from the oldest block on. Where profbot has sampled
the volume too, the samples are the truth from their first one on, and the block curve is lifted
to meet it (the volume holds more than blocks: the head, Pyroscope's own files). The growth rate
is taken over the retention window, or the whole history when none is set.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise

from handlers.context import Outcome
from handlers.findings import Evidence, Finding, Severity, TenantUsage
from profbot.jobs import VolumeSample
from profbot.ops.blocks import BlockInfo, BlockListing

DAY = 86400.0
MIN_HISTORY_SECONDS = 3600  # less than an hour of history says nothing about a day
MAX_POINTS = 240  # points of the block curve (hourly over ten days; coarser beyond)
RECENT_SECONDS = 2 * 3600  # a block ending this close to now: the history runs "to now"
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": DAY, "w": 7 * DAY, "y": 365 * DAY}


def duration_seconds(value: str | None) -> float | None:
    """Pyroscope's (Prometheus') duration, e.g. ``15d``, ``720h``, ``1w2d``; None when unset,
    zero (retention off) or not a duration."""
    text = (value or "").strip()
    if not text or _DURATION.sub("", text):
        return None
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))
    return seconds or None


def cumulative(blocks: list[BlockInfo], times: list[float]) -> list[float]:
    """Bytes of block data up to each of ``times`` (sorted), each block spread evenly over its
    time range: a sweep over the ranges' ends, so 5,000 blocks cost 10,000 events and no more."""
    events: list[tuple[float, float, float]] = []  # (at, change of slope, jump)
    for b in blocks:
        span = b.max_time - b.min_time
        if span > 0:
            events += [(b.min_time, b.size_bytes / span, 0.0), (b.max_time, -b.size_bytes / span, 0.0)]
        else:
            events.append((b.min_time, 0.0, float(b.size_bytes)))
    events.sort()
    out: list[float] = []
    value = slope = 0.0
    at = events[0][0] if events else 0.0
    i = 0
    for t in times:
        while i < len(events) and events[i][0] <= t:
            when, change, jump = events[i]
            value += slope * (when - at) + jump
            at, slope, i = when, slope + change, i + 1
        out.append(value + slope * (t - at))
    return out


def value_at(series: list[VolumeSample], t: float) -> float:
    """The series at ``t``, linearly between its points (its ends beyond them)."""
    if t <= series[0].at:
        return float(series[0].size_bytes)
    for before, after in pairwise(series):
        if after.at >= t:
            share = (t - before.at) / (after.at - before.at) if after.at > before.at else 1.0
            return before.size_bytes + share * (after.size_bytes - before.size_bytes)
    return float(series[-1].size_bytes)


def rate_over(series: list[VolumeSample], window: float | None) -> tuple[float | None, float]:
    """Bytes a day over the last ``window`` seconds of the series (all of it when None), and the
    span that was used; None with less than an hour of it."""
    if len(series) < 2:
        return None, 0.0
    end = series[-1].at
    start = series[0].at if window is None else max(series[0].at, end - window)
    span = end - start
    if span < MIN_HISTORY_SECONDS:
        return None, span
    return (series[-1].size_bytes - value_at(series, start)) / (span / DAY), span


@dataclass
class GrowthHistory:
    """What a storage finding and chart are built from."""

    samples: list[VolumeSample]  # merged, oldest first
    growth_per_day: float | None
    window: float  # seconds of history the rate was taken over
    source: str  # "from 42 blocks (3 compacted), 2026-11-30 to now"
    from_blocks: bool
    tenants: list[TenantUsage] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # broken blocks, blocks past retention
    notes: list[str] = field(default_factory=list)


def _day(at: float) -> str:
    return f"{datetime.fromtimestamp(at, UTC):%Y-%m-%d}"


def _when(at: float) -> str:
    return f"{datetime.fromtimestamp(at, UTC):%Y-%m-%d %H:%M} UTC"


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB" if n < 10 * 2**30 else f"{n / 2**30:,.1f} GB"


def block_curve(listing: BlockListing, now: float) -> list[VolumeSample]:
    """The bytes stored over time, from the blocks, ending at ``now`` with the heads' bytes added
    (data not yet cut into a block)."""
    blocks = listing.blocks
    first, last = min(b.min_time for b in blocks), max(b.max_time for b in blocks)
    steps = max(1, min(MAX_POINTS, int((last - first) // 3600) or 1))
    times = [first + (last - first) * k / steps for k in range(steps + 1)]
    values = cumulative(blocks, times)
    curve = [VolumeSample(at=t, size_bytes=round(v)) for t, v in zip(times, values, strict=True)]
    head = sum(h.size_bytes for h in listing.heads)
    if now > last + 60:
        curve.append(VolumeSample(at=now, size_bytes=round(values[-1]) + head))
    elif head:
        curve[-1] = VolumeSample(at=curve[-1].at, size_bytes=curve[-1].size_bytes + head)
    return curve


def merge(curve: list[VolumeSample], samples: list[VolumeSample]) -> list[VolumeSample]:
    """The block curve up to the first sample, lifted to meet it; the samples from there on."""
    if not samples:
        return curve
    first = samples[0]
    if first.at <= curve[0].at:
        return samples
    lift = first.size_bytes - value_at(curve, first.at)
    before = [VolumeSample(at=p.at, size_bytes=max(round(p.size_bytes + lift), 0)) for p in curve if p.at < first.at]
    return before + samples


def tenants_of(listing: BlockListing) -> list[TenantUsage]:
    sizes: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    oldest: dict[str, float] = {}
    for b in listing.blocks:
        sizes[b.tenant] += b.size_bytes
        counts[b.tenant] += 1
        oldest[b.tenant] = min(oldest.get(b.tenant, b.min_time), b.min_time)
    for h in listing.heads:
        sizes[h.tenant] += h.size_bytes
    total = sum(sizes.values()) or 1
    usage = [
        TenantUsage(tenant=t, size_bytes=s, share=s / total, blocks=counts[t], oldest=oldest.get(t))
        for t, s in sizes.items()
    ]
    return sorted(usage, key=lambda u: (-u.size_bytes, u.tenant))


def past_retention(listing: BlockListing, retention: float, label: str, now: float) -> Finding | None:
    """Blocks whose newest data is older than the retention: Pyroscope should have deleted them."""
    old = [b for b in listing.blocks if b.max_time < now - retention]
    if not old:
        return None
    size = sum(b.size_bytes for b in old)
    what = f"{len(old)} blocks ({_mb(size)}) hold" if len(old) > 1 else f"1 block ({_mb(size)}) holds"
    return Finding(
        check="blocks past retention",
        severity=Severity.WARNING,
        detail=f"{what} only data older than the configured retention ({label}), "
        f"the oldest from {_day(min(b.min_time for b in old))}: retention is not applied, or the compactor is "
        "not running",
    )


def broken_blocks(listing: BlockListing) -> Finding | None:
    if not listing.broken_count:
        return None
    named = "; ".join(f"{b.tenant}/local/{b.name}: {b.reason}" for b in listing.broken)
    more = listing.broken_count - len(listing.broken)
    return Finding(
        check="unreadable blocks",
        severity=Severity.INFO,
        detail=f"{listing.broken_count} block director{'ies' if listing.broken_count > 1 else 'y'} not counted: {named}"
        + (f"; and {more} more" if more else ""),
    )


def samples_only(samples: list[VolumeSample], why: str) -> GrowthHistory:
    growth, span = rate_over(samples, None)
    return GrowthHistory(samples=samples, growth_per_day=growth, window=span, from_blocks=False,
                         source=f"from profbot's samples of the volume ({why})")  # fmt: skip


def growth_history(
    listing: Outcome[BlockListing], samples: list[VolumeSample], retention: str | None, now: float
) -> GrowthHistory:
    """The history the storage finding and chart use: Pyroscope's blocks merged with profbot's
    samples where there are blocks, else the samples alone, saying why."""
    value = listing.value
    if value is None:
        return samples_only(samples, f"the blocks were not read: {listing.error}")
    if value.layout == "unreadable":
        return samples_only(samples, f"the volume was not readable from the runner: {value.reason}")
    if value.layout in ("none", "empty") or not value.blocks:
        what = {
            "empty": "the volume is empty",
            "none": "the volume holds no Pyroscope v1 block, no <tenant>/local/<ULID>/meta.json: a v0 data "
            "directory, or Pyroscope's data path is elsewhere",
        }.get(value.layout, "no readable block in it")
        history = samples_only(samples, what)
        history.findings = [f for f in (broken_blocks(value),) if f is not None]
        return history
    window = duration_seconds(retention)
    curve = block_curve(value, now)
    merged = merge(curve, samples)
    growth, span = rate_over(merged, window)
    blocks = value.blocks
    compacted = sum(1 for b in blocks if (b.level or 0) >= 2)
    last = max(b.max_time for b in blocks)
    until = "now" if now - last <= RECENT_SECONDS else f"{_when(last)} (no block since)"
    source = f"from {len(blocks):,} blocks" + (f" ({compacted:,} compacted)" if compacted else "")
    source += f", {_day(min(b.min_time for b in blocks))} to {until}"
    if samples and merged[-1] is samples[-1]:
        source += f", and {len(samples)} sample{'s' if len(samples) > 1 else ''} since {_when(samples[0].at)}"
    history = GrowthHistory(samples=merged, growth_per_day=growth, window=span, source=source, from_blocks=True,
                            tenants=tenants_of(value))  # fmt: skip
    if value.omitted_blocks:
        history.notes.append(f"{value.omitted_blocks:,} older blocks were not read ({value.reason}).")
    if window is not None and retention:
        old = past_retention(value, window, retention, now)
        if old is not None:
            history.findings.append(old)
    broken = broken_blocks(value)
    if broken is not None:
        history.findings.append(broken)
    return history


def tenants_table(tenants: list[TenantUsage]) -> list[str]:
    """The tenants as aligned lines, largest first: a monospace table each front end shows."""
    rows = [("tenant", "size", "share", "blocks", "data from")]
    rows += [
        (u.tenant, _mb(u.size_bytes), f"{u.share * 100:.1f} %", f"{u.blocks:,}", _day(u.oldest) if u.oldest else "-")
        for u in tenants
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return [
        "  ".join(
            c.ljust(w) if i in (0, 4) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]


def tenants_evidence(volume: str, history: GrowthHistory) -> list[Evidence]:
    """The tenants table, for the report's thread (each front end shows it as a monospace table)."""
    if not history.tenants:
        return []
    title = f"Space in {volume} by Pyroscope tenant, largest first ({history.source})"
    return [Evidence(title=title, lines=tenants_table(history.tenants), tail=False)]
