"""The runbook registry: procedures and their actions, registered by decorator on :data:`RUNBOOK`
when ``handlers`` is imported, and checked at import.

A procedure is ``async def fn(ctx: ProcedureContext, params: SomeParams) -> Report``, registered
with ``@RUNBOOK.procedure(id, ...)``. It says how people name it (``alias``), which of its params
the one argument of a command fills (``argument``; required when the field has no default), and,
when the argument does not name a container, which container's host runs it (``routes_by``).

An action (handlers/actions.py) is registered with ``@RUNBOOK.action(procedure, id, ...)``.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from handlers.actions import Action, ActionParams, Plan, Recheck, make_action
from handlers.context import ProcedureContext
from handlers.findings import Remediation, Report
from profbot.ops import OpKind

P = TypeVar("P", bound=BaseModel)
A = TypeVar("A", bound=ActionParams)
ProcedureFn = Callable[[ProcedureContext, Any], Awaitable[Report]]


@dataclass(frozen=True)
class Procedure:
    id: str  # the runbook's id, e.g. INC-PROF-001, or a name for the unnumbered sections
    title: str
    runbook_section: str
    params_type: type[BaseModel]
    fn: ProcedureFn
    alias: str | None  # the word people use for it: "unavailable", "storage", "onboard"
    argument: str | None  # the params field a command's one argument fills
    argument_label: str  # how usage names it: SERVICE, VERSION
    routes_by: str | None  # the container whose host runs it; None: the argument's value

    @property
    def doc(self) -> str:
        return inspect.getdoc(inspect.getmodule(self.fn)) or ""

    @property
    def needs_argument(self) -> bool:
        return self.argument is not None and self.params_type.model_fields[self.argument].is_required()

    @property
    def default_argument(self) -> str | None:
        if self.argument is None:
            return None
        default = self.params_type.model_fields[self.argument].default
        return None if default is PydanticUndefined or default is None else str(default)

    @property
    def takes_minutes(self) -> bool:
        """Whether it looks at a window of time people may choose (``minutes``: a flamegraph's)."""
        return "minutes" in self.params_type.model_fields

    def params_for(self, argument: str | None, minutes: int | None = None) -> BaseModel:
        """The procedure's params with ``argument`` in its field (the default when None), and
        ``minutes`` for one that takes a window. Raises pydantic's ValidationError for an
        argument the field refuses."""
        values: dict[str, object] = {}
        if self.argument is not None and argument is not None:
            values[self.argument] = argument
        if minutes is not None and self.takes_minutes:
            values["minutes"] = minutes
        return self.params_type.model_validate(values)

    def route_for(self, params: BaseModel) -> str:
        """The container whose host runs this procedure for ``params``."""
        if self.routes_by is not None or self.argument is None:
            return self.routes_by or "pyroscope"
        return str(getattr(params, self.argument))

    async def __call__(self, ctx: ProcedureContext, params: BaseModel) -> Report:
        return await self.fn(ctx, self.params_type.model_validate(params.model_dump()))


class Runbook:
    def __init__(self) -> None:
        self._procedures: dict[str, Procedure] = {}
        self._actions: dict[tuple[str, str], Action[Any]] = {}

    # ------------------------------------------------------------------ procedures

    def procedure(
        self,
        id: str,
        *,
        title: str,
        runbook_section: str,
        alias: str | None = None,
        argument: str | None = None,
        argument_label: str = "SERVICE",
        routes_by: str | None = None,
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
            if argument is not None and argument not in params_type.model_fields:
                raise TypeError(f"procedure {id}: {params_type.__name__} has no field {argument!r}")
            if alias is not None and any(p.alias == alias for p in self._procedures.values()):
                raise ValueError(f"procedure {id}: alias {alias!r} is taken")
            proc = Procedure(id, title, runbook_section, params_type, fn, alias, argument, argument_label, routes_by)
            self._procedures[id] = proc
            return proc

        return decorate

    def get(self, id: str) -> Procedure | None:
        return self._procedures.get(id)

    def find(self, name: str) -> Procedure | None:
        """A procedure by its id or its alias, in any case."""
        wanted = name.lower()
        return next((p for p in self if wanted in (p.id.lower(), (p.alias or "").lower())), None)

    def __iter__(self) -> Iterator[Procedure]:
        return iter(self._procedures.values())

    # ------------------------------------------------------------------ actions

    def action(
        self, procedure: str, id: str, *, risk: OpKind, label: str, impact: str
    ) -> Callable[[Callable[[A], Plan] | Callable[[A], Recheck]], Action[A]]:
        """Register one of ``procedure``'s remediations (see handlers/actions.py)."""

        def decorate(fn: Callable[[A], Plan] | Callable[[A], Recheck]) -> Action[A]:
            if procedure not in self._procedures:
                raise ValueError(f"action for unknown procedure {procedure!r}: register the procedure first")
            if (procedure, id) in self._actions:
                raise ValueError(f"action {procedure} {id} registered twice")
            action: Action[A] = make_action(procedure, id, risk, label, impact, fn)
            self._actions[(procedure, id)] = action
            return action

        return decorate

    def actions_of(self, procedure: str) -> list[Action[Any]]:
        return [a for (p, _), a in self._actions.items() if p == procedure]

    def action_named(self, procedure: str, action: str) -> Action[Any]:
        """The registered action ``action`` of ``procedure``; KeyError if there is none."""
        found = self._actions.get((procedure, action))
        if found is None:
            raise KeyError(f"no action {action!r} in {procedure}")
        return found

    def action_for(self, remedy: Remediation) -> Action[Any]:
        """The registered action a remediation stands for; KeyError if none (a stale offer)."""
        action = self._actions.get((remedy.procedure, remedy.action))
        if action is None or action.risk is not remedy.kind:
            raise KeyError(f"no {remedy.kind} action {remedy.action!r} in {remedy.procedure}")
        return action


# The runbook's procedures and actions register here when ``handlers`` is imported.
RUNBOOK = Runbook()
