"""What a procedure reports: findings ranked by severity, the evidence behind them, and the
remediations the runbook offers, each labelled read, change or destroy (handlers/actions.py).
A front end renders them; nothing here is built for one."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from profbot.ops import OpKind


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
    """Raw output behind the findings (log lines, a profiler log), shown apart from the summary."""

    title: str
    lines: list[str]
    omitted_lines: int = 0


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
