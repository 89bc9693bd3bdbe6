"""What a procedure works with: its host, the job bus, one deadline for each read; and what each
read gives back, a result or the error that stood in its way (analysis turns both into findings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from profbot.bus import Bus
from profbot.errors import ProfbotError
from profbot.ops import Operation, OpResult

R = TypeVar("R", bound=OpResult)


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """An operation's result, or the error that stood in its way. Exactly one is set."""

    value: R | None = None
    error: ProfbotError | None = None


class ProcedureContext:
    """What a procedure can do: run operations on its host, each within its own time budget and
    at most ``timeout`` seconds (how long a person waiting for the diagnosis is kept waiting)."""

    def __init__(self, bus: Bus, host: str, timeout: float) -> None:
        self.bus = bus
        self.host = host
        self.timeout = timeout

    def within(self, budget: float) -> ProcedureContext:
        return ProcedureContext(self.bus, self.host, min(self.timeout, budget))

    async def run(self, operation: Operation[R]) -> Outcome[R]:
        try:
            value = await self.bus.call(self.host, operation, timeout=min(operation.time_budget(), self.timeout))
        except ProfbotError as exc:
            return Outcome(error=exc)
        return Outcome(value=value)
