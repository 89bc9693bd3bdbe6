"""The fault suite's figures (inputs tried, actions executed by forged or malformed input, duplicate
executions, alerts lost, secrets leaked), counted by its tests and printed at the end of the run.

Under pytest-xdist every worker counts its own tests' figures: each hands its count to the
controller at its end (``workeroutput``), which adds them up before printing (tests/conftest.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Figures:
    inputs_tried: int = 0
    executed_by_bad_input: int = 0
    duplicate_executions: int = 0
    alerts_lost: int = 0
    secrets_leaked: int = 0
    tests: int = 0
    leaks: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"faults: inputs tried {self.inputs_tried} · executed by forged or malformed input "
            f"{self.executed_by_bad_input} · duplicate executions {self.duplicate_executions} · alerts lost "
            f"{self.alerts_lost} · secrets leaked {self.secrets_leaked}"
        )

    def as_data(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, other: dict[str, Any]) -> None:
        """Add another process's figures (``as_data``) to these."""
        for name, value in other.items():
            setattr(self, name, getattr(self, name) + value)


FIGURES = Figures()
