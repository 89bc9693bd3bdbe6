"""The operation contract: what an operation is, and the catalog of every declared one.

An operation is a pydantic model of its arguments (frozen, unknown fields refused), typed by its
result: ``class ContainerInspect(Operation[ContainerState])``. It is registered on :data:`CATALOG`
with its name, its kind and its time budget, checked at import. ``JobBus.call(host, op)`` answers
the operation's own result type; a runner implements each declared operation (runner/operations/)
and refuses to start if any is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict


class OpKind(StrEnum):
    READ = "read"  # free for operators
    CHANGE = "change"  # needs a confirmation (and an approval id on the bus)
    DESTROY = "destroy"  # needs a typed confirmation and a second person's approval


# defer_build: a model's validator and serializer are built when it is first used, not at import.
# Each process uses a few of the catalog's hundred models; building them all cost each process
# 6 to 8 MB of memory (bench/memory.py).
class OpResult(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class TextOutput(OpResult):
    """Text that left the runner: bounded and redacted, and saying so."""

    lines: list[str]
    omitted_lines: int = 0  # lines cut to stay within the bound (the oldest, for logs)
    omitted_bytes: int = 0
    redactions: int = 0  # secrets replaced by [redacted]


class ChangeResult(OpResult):
    """What a change did, step by step, and the state it left."""

    target: str
    steps: list[str]
    container_id: str | None = None  # the target's id afterwards (a recreate changes it)
    backup_path: str | None = None


R = TypeVar("R", bound=OpResult)


class Operation(BaseModel, Generic[R]):
    """Arguments of one operation whose result is an ``R``. :meth:`OperationCatalog.register`
    sets ``name``, ``kind``, ``timeout`` and ``result_type``."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    name: ClassVar[str]
    kind: ClassVar[OpKind]
    timeout: ClassVar[float]  # seconds the bot waits for it, and after which the runner cuts it off
    result_type: ClassVar[type[OpResult]]

    def time_budget(self) -> float:
        """How long this very call may take (an operation whose arguments stretch it says so)."""
        return self.timeout

    def parse_result(self, data: dict[str, Any]) -> R:
        return cast(R, self.result_type.model_validate(data))


AnyOperation = Operation[Any]
OpType = TypeVar("OpType", bound=type[AnyOperation])


def _result_type(cls: type[AnyOperation]) -> type[OpResult]:
    """``R`` of ``class X(Operation[R])``, read from pydantic's generic metadata."""
    for klass in cls.__mro__:
        meta = getattr(klass, "__pydantic_generic_metadata__", None) or {}
        if meta.get("origin") is Operation and meta.get("args"):
            result = meta["args"][0]
            if isinstance(result, type) and issubclass(result, OpResult):
                return result
    raise TypeError(f"{cls.__name__} must derive from Operation[SomeResult]")


class OperationCatalog:
    """The registry of declared operations, keyed by name."""

    def __init__(self) -> None:
        self._ops: dict[str, type[AnyOperation]] = {}

    def register(self, name: str, kind: OpKind, *, timeout: float) -> Callable[[OpType], OpType]:
        def decorate(cls: OpType) -> OpType:
            if name in self._ops:
                raise ValueError(f"operation {name!r} declared twice")
            if not 0 < timeout <= 3600:
                raise ValueError(f"operation {name!r}: timeout must be within an hour")
            cls.name, cls.kind, cls.timeout, cls.result_type = name, kind, timeout, _result_type(cls)
            self._ops[name] = cls
            return cls

        return decorate

    def get(self, name: str) -> type[AnyOperation] | None:
        return self._ops.get(name)

    def parse(self, name: str, params: dict[str, Any]) -> AnyOperation:
        """Validate a request that came over the bus. Raises KeyError or ValidationError."""
        return self._ops[name].model_validate(params)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._ops))

    def __contains__(self, name: object) -> bool:
        return name in self._ops


CATALOG = OperationCatalog()
