"""What a procedure reports: findings ranked by severity, the evidence behind them, and the
remediations the runbook offers, each labelled read, change or destroy (handlers/actions.py).
A front end renders them; nothing here is built for one."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from profbot.jobs import VolumeSample
from profbot.ops import OpKind
from profbot.ops.pyroscope import FlameProfile

MB = 2**20  # as profbot prints sizes (handlers/storage_full.py)
PROJECTION_MAX_DAYS = 3650


class Severity(StrEnum):
    OK = "ok"
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.OK: 0, Severity.INFO: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}


class Finding(BaseModel):
    check: str  # what was looked at, e.g. "Pyroscope /ready"
    severity: Severity
    detail: str  # what was seen and why it matters


class Evidence(BaseModel):
    """Raw output behind the findings (log lines, a profiler log), shown apart from the summary:
    whole, or where it is long, as a file beside a short excerpt (each front end decides)."""

    title: str
    lines: list[str]
    omitted_lines: int = 0  # lines the runner left on the host, beyond what it ships (runner/redaction.py)
    tail: bool = True  # the lines end with the newest (a log): an excerpt shows the last ones, else the first


class Remediation(BaseModel):
    """One of the runbook's remediations, offered for a target on a host. Made only by the action
    registry (``Action.offer``), so its label, risk and impact are always the registry's."""

    procedure: str  # e.g. INC-PROF-001
    action: str  # e.g. restart, recreate, verify
    label: str  # e.g. "Delete volume pyroscope_data"
    kind: OpKind  # its risk: read, change or destroy
    impact: str  # what the runbook says happens
    host: str
    target: str  # the container, service, volume or setting it acts on
    params: dict[str, Any] = {}  # the action's parameters (its params model, as JSON)


class TenantUsage(BaseModel):
    """The space one Pyroscope tenant's blocks (and head) take in the data volume."""

    tenant: str
    size_bytes: int
    share: float  # of what all tenants use, 0 to 1
    blocks: int
    oldest: float | None = None  # epoch seconds: its oldest block's first data


class StorageHistory(BaseModel):
    """The data volume's size over time (Pyroscope's blocks, profbot's samples), for a chart of its
    trend against the runbook's baselines."""

    volume: str
    samples: list[VolumeSample]  # oldest first: from the blocks, then as the runner sampled them
    capacity_bytes: int | None = None  # the filesystem under /data, when read
    used_bytes: int | None = None  # used on it now, when read
    growth_per_day: float | None = None  # bytes a day; None until there is enough history
    expected_per_day: float = 100 * MB  # runbook, Performance Baselines: ~100 MB/day
    alert_per_day: float = 500 * MB  # ... alert above 500 MB/day
    min_history_seconds: float = 3600  # a trend needs at least this span of samples
    source: str | None = None  # what the history is made of: "from 42 blocks, 2026-11-30 to now"
    tenants: list[TenantUsage] = []  # largest first, when read from the blocks

    @property
    def projected_full_at(self) -> float | None:
        """When the filesystem fills at the current growth (epoch seconds); None if it does not grow,
        its size is not known, or it would take more than PROJECTION_MAX_DAYS."""
        if not self.growth_per_day or self.growth_per_day <= 0 or self.capacity_bytes is None:
            return None
        used = self.used_bytes if self.used_bytes is not None else self.samples[-1].size_bytes if self.samples else 0
        last = self.samples[-1].at if self.samples else None
        if last is None:
            return None
        days = max(self.capacity_bytes - used, 0) / self.growth_per_day
        # Beyond a few years a date says nothing (and a slow trickle would overflow one).
        return None if days > PROJECTION_MAX_DAYS else last + days * 86400

    @property
    def trend_from(self) -> float | None:
        """When a trend will be available (epoch seconds), while there is not enough history yet."""
        if self.growth_per_day is not None:
            return None
        first = self.samples[0].at if self.samples else None
        return None if first is None else first + self.min_history_seconds


class Report(BaseModel):
    procedure: str
    title: str
    host: str
    findings: list[Finding]
    finished_at: datetime
    headline: str | None = None  # the one-line verdict; derived from the worst finding when unset
    evidence: list[Evidence] = []
    remediations: list[Remediation] = []
    notes: list[str] = []  # where profbot did what the runbook means rather than what it says
    # What a front end draws: a service's merged profile (a flamegraph) and the data volume's
    # history (a chart). Data, not pictures: each front end renders them its own way.
    profile: FlameProfile | None = None
    storage: StorageHistory | None = None

    @property
    def verdict(self) -> Severity:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=Severity.OK)

    def ranked(self) -> list[Finding]:
        """Findings, most severe first (stable within a severity)."""
        return sorted(self.findings, key=lambda f: -f.severity.rank)

    def summary(self) -> str:
        if self.headline:
            return self.headline
        worst = self.ranked()[0] if self.findings else None
        if worst is None or worst.severity is Severity.OK:
            return f"{self.title}: nothing wrong found"
        return f"{self.title}: {worst.check}: {worst.detail}"
