"""The table of operation implementations: one async function per operation declared in
:mod:`profbot.ops`, registered with ``@op(OperationClass)``. ``IMPLEMENTATIONS.check_complete()``
runs when :mod:`runner.operations` is imported: a runner lacking any implementation does not start.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from profbot.ops.contract import CATALOG, AnyOperation, OperationCatalog, OpResult
from runner.host_policy import HostContext

Impl = Callable[[HostContext, Any], Awaitable[OpResult]]
F = TypeVar("F", bound=Callable[..., Awaitable[OpResult]])


class OperationTable:
    def __init__(self, catalog: OperationCatalog) -> None:
        self._catalog = catalog
        self._impls: dict[str, Impl] = {}

    def implements(self, op_type: type[AnyOperation]) -> Callable[[F], F]:
        def decorate(fn: F) -> F:
            if op_type.name not in self._catalog:
                raise ValueError(f"{fn.__name__} implements undeclared operation {op_type.name!r}")
            if op_type.name in self._impls:
                raise ValueError(f"operation {op_type.name!r} implemented twice")
            self._impls[op_type.name] = cast(Impl, fn)
            return fn

        return decorate

    def check_complete(self) -> None:
        missing = sorted(set(self._catalog) - set(self._impls))
        if missing:
            raise RuntimeError(f"runner lacks implementations for: {', '.join(missing)}")

    async def execute(self, host: HostContext, operation: AnyOperation) -> OpResult:
        result = await self._impls[operation.name](host, operation)
        if not isinstance(result, operation.result_type):
            raise TypeError(f"{operation.name} returned {type(result).__name__}")
        return result


IMPLEMENTATIONS = OperationTable(CATALOG)
op = IMPLEMENTATIONS.implements
