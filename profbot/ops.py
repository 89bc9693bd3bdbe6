"""The operation contract between the bot and the runners.

A runner executes only the operations declared here: each is a pydantic model of its arguments
(validated on both sides of the bus, unknown fields refused) that names its result model and its
kind. The bot builds requests from these models; ``runner/operations.py`` implements each one and
refuses to start if any is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, StringConstraints

from profbot.settings import NAME_PATTERN


class OpKind(StrEnum):
    READ = "read"  # free for operators
    CHANGE = "change"  # needs a confirmation (and an approval id on the bus)
    DESTROY = "destroy"  # needs a typed confirmation and a second person's approval


# Container, service and volume names: podman's own rule, so nothing else (spaces, `;`, `/`)
# can ever reach an argument list.
ResourceName = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=128)]


class OpResult(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Operation(BaseModel):
    """Arguments of one operation. Subclasses set ``name``, ``kind`` and ``result_type``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str]
    kind: ClassVar[OpKind]
    result_type: ClassVar[type[OpResult]]


OpType = TypeVar("OpType", bound=type[Operation])


class OperationCatalog:
    """The registry of declared operations, keyed by name."""

    def __init__(self) -> None:
        self._ops: dict[str, type[Operation]] = {}

    def register(self, name: str, kind: OpKind, result_type: type[OpResult]) -> Callable[[OpType], OpType]:
        def decorate(cls: OpType) -> OpType:
            if name in self._ops:
                raise ValueError(f"operation {name!r} declared twice")
            if not issubclass(result_type, OpResult):
                raise TypeError(f"operation {name!r}: result type must derive from OpResult")
            cls.name, cls.kind, cls.result_type = name, kind, result_type
            self._ops[name] = cls
            return cls

        return decorate

    def get(self, name: str) -> type[Operation] | None:
        return self._ops.get(name)

    def parse(self, name: str, params: dict[str, Any]) -> Operation:
        """Validate a request that came over the bus. Raises KeyError or ValidationError."""
        cls = self._ops[name]
        return cls.model_validate(params)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._ops))

    def __contains__(self, name: object) -> bool:
        return name in self._ops


CATALOG = OperationCatalog()


# ---------------------------------------------------------------------------- Pyroscope


class ReadyResult(OpResult):
    url: str
    ready: bool
    status_code: int | None
    body: str
    latency_ms: float
    error: str | None = None  # set when no HTTP answer came back at all


@CATALOG.register("pyroscope.ready", OpKind.READ, ReadyResult)
class PyroscopeReady(Operation):
    """GET /ready on the Pyroscope server, as seen from the runner's host."""


# ---------------------------------------------------------------------------- containers


class ContainerState(OpResult):
    name: str
    id: str
    image: str
    status: str  # podman's word: created, running, paused, exited, stopped, ...
    running: bool
    exit_code: int
    oom_killed: bool
    restart_count: int
    healthcheck_defined: bool
    health: str | None  # healthy, unhealthy, starting; None without a healthcheck
    health_failing_streak: int
    health_last_output: str | None
    started_at: datetime | None
    finished_at: datetime | None


@CATALOG.register("container.inspect", OpKind.READ, ContainerState)
class ContainerInspect(Operation):
    """State, exit code, restarts and health of one container.

    With ``run_healthcheck`` the container's healthcheck is run first, where one is defined and
    the container runs: podman 4.3 without systemd never runs it on its own schedule, so the
    stored health would be stale.
    """

    container: ResourceName
    run_healthcheck: bool = False
