"""The use cases' own settings (from profbot/settings.py, through bot/service.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from profbot.approvals.store import EXECUTOR_LEASE_SECONDS
from profbot.settings import BotSettings


@dataclass(frozen=True)
class ChangePolicy:
    approval_ttl: float = 900.0  # seconds a request waits for its confirmation or approval
    changes_per_hour: int = 3  # the same change on the same target, per hour
    verify_seconds: float = 60.0  # the budget of the verification after a change
    # How long a running change outlives its executor (beyond its step's deadline).
    executor_lease: float = EXECUTOR_LEASE_SECONDS

    @classmethod
    def of(cls, settings: BotSettings) -> ChangePolicy:
        """The policy every front end's process reads from its settings."""
        return cls(
            settings.approval_ttl_seconds,
            settings.changes_per_hour,
            settings.verify_seconds,
            settings.executor_lease_seconds,
        )


@dataclass(frozen=True)
class AlertPolicy:
    channel: str  # where each alert group gets its thread
    procedures: dict[str, str] = field(default_factory=dict)  # alertname -> procedure, over the defaults
    diagnosis_cooldown: float = 900.0  # a group diagnosed at most once in this many seconds
