"""The procedure registry: runbook procedures as typed, registered functions.

A procedure is ``async def fn(ctx: ProcedureContext, params: SomeParams) -> Report`` registered
with ``@registry.procedure(...)``. Registration checks the signature at import time, so a
procedure with a wrong shape stops the process before it can be offered in Slack.

Each change or destroy remediation a procedure declares has a plan, registered with
``@registry.plan(procedure_id, action)``: the exact operations a confirmed click runs, the
target whose identity the approval binds, and the verification that runs after it.
:meth:`ProcedureRegistry.check_complete` refuses a registry with a declared action left unplanned.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

from handlers.findings import Finding, Remediation, Report
from profbot.bus import JobBus
from profbot.errors import ProfbotError
from profbot.ops import Operation, OpKind, OpResult

R = TypeVar("R", bound=OpResult)
P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """An operation's result, or the error that stood in its way. Exactly one is set."""

    value: R | None = None
    error: ProfbotError | None = None


class ProcedureContext:
    """What a procedure can do: run operations on its host, with one deadline for each."""

    def __init__(self, bus: JobBus, host: str, timeout: float) -> None:
        self.bus = bus
        self.host = host
        self.timeout = timeout

    async def run(self, operation: Operation, result_type: type[R]) -> Outcome[R]:
        try:
            value = await self.bus.call(self.host, operation, timeout=self.timeout)
        except ProfbotError as exc:
            return Outcome(error=exc)
        if not isinstance(value, result_type):
            raise TypeError(f"{operation.name} answered {type(value).__name__}, not {result_type.__name__}")
        return Outcome(value=value)


ProcedureFn = Callable[[ProcedureContext, Any], Awaitable[Report]]
# After a change: what the runbook checks, given a time budget in seconds.
Verification = Callable[[ProcedureContext, float], Awaitable[Finding]]


@dataclass(frozen=True)
class Step:
    operation: Operation
    text: str  # the runbook's words for it, shown before it runs and while it runs


@dataclass(frozen=True)
class Plan:
    """What one click on a change or destroy remediation runs, in order, and how it is checked."""

    steps: list[Step]
    verify: Verification
    impact: str  # what the runbook says happens, shown before anyone confirms
    # The target whose identity an approval binds: ("container", name) or ("volume", name).
    binds: tuple[Literal["container", "volume"], str] | None = None


PlanFn = Callable[[Remediation], Plan]


@dataclass(frozen=True)
class Procedure:
    id: str  # the runbook's id, e.g. INC-PROF-001, or a name for the unnumbered sections
    title: str
    runbook_section: str
    params_type: type[BaseModel]
    fn: ProcedureFn
    # The remediations it may offer and their kind: a button is only ever taken for one of these.
    actions: dict[str, OpKind] = field(default_factory=dict)

    @property
    def doc(self) -> str:
        return inspect.getdoc(inspect.getmodule(self.fn)) or ""

    async def __call__(self, ctx: ProcedureContext, params: BaseModel) -> Report:
        report = await self.fn(ctx, self.params_type.model_validate(params.model_dump()))
        for remedy in report.remediations:
            if self.actions.get(remedy.action) is not remedy.kind:
                raise TypeError(f"{self.id} offered undeclared remediation {remedy.action!r} ({remedy.kind})")
        return report


class ProcedureRegistry:
    def __init__(self) -> None:
        self._procedures: dict[str, Procedure] = {}
        self._plans: dict[tuple[str, str], PlanFn] = {}

    def plan(self, procedure_id: str, action: str) -> Callable[[PlanFn], PlanFn]:
        """Register what a click on ``procedure_id``'s ``action`` runs."""

        def decorate(fn: PlanFn) -> PlanFn:
            procedure = self._procedures.get(procedure_id)
            if procedure is None:
                raise ValueError(f"plan for unknown procedure {procedure_id!r}: register the procedure first")
            kind = procedure.actions.get(action)
            if kind is None or kind is OpKind.READ:
                raise ValueError(f"{procedure_id} declares no change or destroy action {action!r}")
            if (procedure_id, action) in self._plans:
                raise ValueError(f"plan for {procedure_id} {action} registered twice")
            self._plans[(procedure_id, action)] = fn
            return fn

        return decorate

    def plan_for(self, remedy: Remediation) -> Plan:
        """The plan of a remediation; every step's kind must fit the remediation's."""
        fn = self._plans.get((remedy.procedure, remedy.action))
        if fn is None:
            raise KeyError(f"no plan for {remedy.procedure} {remedy.action}")
        plan = fn(remedy)
        if any(step.operation.kind is OpKind.DESTROY for step in plan.steps) and remedy.kind is not OpKind.DESTROY:
            raise TypeError(f"{remedy.procedure} {remedy.action} is a change but its plan destroys")
        return plan

    def check_complete(self) -> None:
        missing = [
            f"{p.id} {action}"
            for p in self._procedures.values()
            for action, kind in p.actions.items()
            if kind is not OpKind.READ and (p.id, action) not in self._plans
        ]
        if missing:
            raise TypeError(f"change/destroy actions without a plan: {', '.join(missing)}")

    def procedure(
        self, id: str, *, title: str, runbook_section: str, actions: dict[str, OpKind] | None = None
    ) -> Callable[[Callable[[ProcedureContext, P], Awaitable[Report]]], Procedure]:
        def decorate(fn: Callable[[ProcedureContext, P], Awaitable[Report]]) -> Procedure:
            if id in self._procedures:
                raise ValueError(f"procedure {id!r} registered twice")
            if not inspect.iscoroutinefunction(fn):
                raise TypeError(f"procedure {id}: {fn.__name__} must be async")
            hints = typing.get_type_hints(fn)
            names = list(inspect.signature(fn).parameters)
            if len(names) != 2 or hints.get(names[0]) is not ProcedureContext:
                raise TypeError(f"procedure {id}: signature must be (ctx: ProcedureContext, params: Model)")
            params_type = hints.get(names[1])
            if not (isinstance(params_type, type) and issubclass(params_type, BaseModel)):
                raise TypeError(f"procedure {id}: params must be annotated with a pydantic model")
            if hints.get("return") is not Report:
                raise TypeError(f"procedure {id}: must return Report")
            proc = Procedure(id, title, runbook_section, params_type, fn, dict(actions or {}))
            self._procedures[id] = proc
            return proc

        return decorate

    def get(self, id: str) -> Procedure | None:
        return self._procedures.get(id)

    def __iter__(self) -> Iterator[Procedure]:
        return iter(self._procedures.values())


# The runbook's procedures register here when ``handlers`` is imported.
RUNBOOK = ProcedureRegistry()
