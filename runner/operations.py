"""Implementations of the operations declared in :mod:`profbot.ops`, one function each.

``IMPLEMENTATIONS.check_complete()`` runs at import time: a runner that lacks an implementation
for any declared operation does not start.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from profbot.ops import (
    CATALOG,
    ContainerInspect,
    ContainerState,
    Operation,
    OperationCatalog,
    OpResult,
    PyroscopeReady,
    ReadyResult,
)
from runner.podman_gateway import PodmanGateway
from runner.pyroscope import PyroscopeClient


@dataclass(frozen=True)
class HostContext:
    """What an operation may use on this host."""

    podman: PodmanGateway
    pyroscope: PyroscopeClient


Impl = Callable[[HostContext, Any], Awaitable[OpResult]]
F = TypeVar("F", bound=Callable[..., Awaitable[OpResult]])


class OperationTable:
    def __init__(self, catalog: OperationCatalog) -> None:
        self._catalog = catalog
        self._impls: dict[str, Impl] = {}

    def implements(self, op_type: type[Operation]) -> Callable[[F], F]:
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

    async def execute(self, host: HostContext, operation: Operation) -> OpResult:
        result = await self._impls[operation.name](host, operation)
        if not isinstance(result, operation.result_type):
            raise TypeError(f"{operation.name} returned {type(result).__name__}")
        return result


IMPLEMENTATIONS = OperationTable(CATALOG)


@IMPLEMENTATIONS.implements(PyroscopeReady)
async def pyroscope_ready(host: HostContext, op: PyroscopeReady) -> ReadyResult:
    return await host.pyroscope.ready()


@IMPLEMENTATIONS.implements(ContainerInspect)
async def container_inspect(host: HostContext, op: ContainerInspect) -> ContainerState:
    return await host.podman.inspect(op.container, run_healthcheck=op.run_healthcheck)


IMPLEMENTATIONS.check_complete()
