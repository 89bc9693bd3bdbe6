"""The runbook's remediations as typed actions.

An action is one of a procedure's remediations: its id, its label, its risk (read, change,
destroy), the runbook's words for its impact, a params model and what it runs. It is declared with
``@RUNBOOK.action(procedure, id, ...)`` on a function of its params:

- a change or destroy returns a :class:`Plan`: the exact operations a confirmed click runs, in
  order, the target whose identity an approval binds, and the verification that runs afterwards;
- a read returns a :class:`Recheck`: the diagnosis it runs again.

A procedure offers an action with ``action.offer(host, params)``, which makes the
:class:`~handlers.findings.Remediation` a front end shows (label and impact from here, always).
The registry checks at import that labels name real parameters, that a read rechecks and a change
plans, and that a change's plan never destroys.
"""

from __future__ import annotations

import inspect
import string
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from handlers.context import ProcedureContext
from handlers.findings import Finding, Remediation
from profbot.ops import AnyOperation, OpKind
from profbot.ops.arguments import ResourceName

if TYPE_CHECKING:
    from handlers.registry import Procedure

# After a change: what the runbook checks, given a time budget in seconds.
Verification = Callable[[ProcedureContext, float], Awaitable[Finding]]


class ActionParams(BaseModel):
    """An action's parameters. ``target_field`` names the one that says what it acts on."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    target_field: ClassVar[str]

    @property
    def target(self) -> str:
        return str(getattr(self, self.target_field))


class ContainerParams(ActionParams):
    target_field: ClassVar[str] = "container"
    container: ResourceName


class ServiceParams(ActionParams):
    target_field: ClassVar[str] = "service"
    service: ResourceName


class VolumeParams(ActionParams):
    target_field: ClassVar[str] = "volume"
    volume: ResourceName


@dataclass(frozen=True)
class Step:
    operation: AnyOperation
    text: str  # the runbook's words for it, shown before it runs and while it runs


@dataclass(frozen=True)
class Plan:
    """What one confirmed change or destroy runs, in order, and how it is checked."""

    steps: list[Step]
    verify: Verification
    # The target whose identity an approval binds (the action's target): a container's id, or a
    # volume's creation time. None: a setting with no identity (a .env variable).
    binds: Literal["container", "volume"] | None = None
    # Besides the action's target, what its steps stop, recreate or delete on the host: the request
    # holds those too, so no other change runs on them meanwhile.
    also_holds: tuple[str, ...] = ()
    # Its steps touch every container on the host (a .env change and `podman-compose up -d`): no
    # other change on the host while it is open or running, nor it while another is.
    host_wide: bool = False


@dataclass(frozen=True)
class Recheck:
    """What a read action runs: a procedure's diagnosis, again."""

    procedure: Procedure
    params: BaseModel


P = TypeVar("P", bound=ActionParams)


@dataclass(frozen=True)
class Action(Generic[P]):
    procedure: str
    id: str
    risk: OpKind
    label_template: str  # str.format over the params, e.g. "Delete volume {volume}"
    impact: str
    params_type: type[P]
    fn: Callable[[P], Plan] | Callable[[P], Recheck]

    def label(self, params: P) -> str:
        return self.label_template.format(**params.model_dump(mode="json"))

    def offer(self, host: str, params: P) -> Remediation:
        """This action, for ``params`` on ``host``: what a report offers and a button stands for."""
        return Remediation(
            procedure=self.procedure,
            action=self.id,
            label=self.label(params),
            kind=self.risk,
            impact=self.impact,
            host=host,
            target=params.target,
            params=params.model_dump(mode="json"),
        )

    def offered(self, host: str, params: P) -> Offered[P]:
        """This action resolved for ``params`` on ``host``: the remediation with the action and its
        parsed parameters, carried as one from the click to the request it files."""
        return Offered(action=self, params=params, remedy=self.offer(host, params))

    def parse(self, params: dict[str, Any]) -> P:
        """The params an offer stored, validated again. Raises pydantic's ValidationError."""
        return self.params_type.model_validate(params)

    def plan(self, params: P) -> Plan:
        made = self.fn(params)
        if not isinstance(made, Plan):
            raise TypeError(f"{self.procedure} {self.id} is a read: it has no plan")
        if self.risk is not OpKind.DESTROY and any(s.operation.kind is OpKind.DESTROY for s in made.steps):
            raise TypeError(f"{self.procedure} {self.id} is a change but its plan destroys")
        return made

    def recheck(self, params: P) -> Recheck:
        made = self.fn(params)
        if not isinstance(made, Recheck):
            raise TypeError(f"{self.procedure} {self.id} is a {self.risk}: it plans, it does not recheck")
        return made


def make_action(
    procedure: str, id: str, risk: OpKind, label: str, impact: str, fn: Callable[[P], Plan] | Callable[[P], Recheck]
) -> Action[P]:
    """An :class:`Action` from its declaration, checked: the function takes one params model and
    returns a Plan (change, destroy) or a Recheck (read); the label names only real parameters."""
    hints = typing.get_type_hints(fn)
    names = list(inspect.signature(fn).parameters)
    params_type = hints.get(names[0]) if len(names) == 1 else None
    if not (isinstance(params_type, type) and issubclass(params_type, ActionParams)):
        raise TypeError(f"action {procedure} {id}: takes exactly one ActionParams model")
    if params_type.target_field not in params_type.model_fields:
        raise TypeError(f"action {procedure} {id}: {params_type.__name__} has no field {params_type.target_field!r}")
    wanted = Recheck if risk is OpKind.READ else Plan
    if hints.get("return") is not wanted:
        raise TypeError(f"action {procedure} {id}: a {risk} action returns {wanted.__name__}")
    fields = {name for _, name, _, _ in string.Formatter().parse(label) if name}
    unknown = fields - set(params_type.model_fields)
    if unknown:
        raise TypeError(f"action {procedure} {id}: label names unknown parameters {sorted(unknown)}")
    return Action(procedure, id, risk, label, impact, typing.cast(type[P], params_type), fn)


@dataclass(frozen=True)
class Offered(Generic[P]):
    """A remediation resolved once from the registry: the action it stands for, its parameters as
    parsed, and the remediation itself (label, risk and impact from the registry)."""

    action: Action[P]
    params: P
    remedy: Remediation
