"""What a procedure reports: findings ranked by severity, and a verdict for the whole report."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


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


class Report(BaseModel):
    procedure: str
    title: str
    host: str
    findings: list[Finding]
    finished_at: datetime

    @property
    def verdict(self) -> Severity:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=Severity.OK)

    def ranked(self) -> list[Finding]:
        """Findings, most severe first (stable within a severity)."""
        return sorted(self.findings, key=lambda f: -f.severity.rank)
