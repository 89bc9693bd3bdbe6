from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from profbot.bus import JobBus
from profbot.ops.contract import AnyOperation, OpKind, OpResult
from profbot.redis_access import connect
from tests.conftest import RunnerFactory
from tests.rig.approvals import approved
from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import RunnerProcess

HOST = "ops-host"

Call = Callable[..., Awaitable[Any]]


@pytest.fixture
async def job_bus(redis_url: str, prefix: str) -> AsyncIterator[JobBus]:
    client = connect(redis_url)
    bus = JobBus(client, prefix)
    bus.waiter.start()
    yield bus
    await bus.waiter.stop()
    await client.aclose()


@pytest.fixture
def stack(podman_rig: PodmanRig) -> Iterator[PodmanRig]:
    """The compose stack, reset to the operator's files and fresh containers after the test."""
    podman_rig.ensure_pyroscope_healthy()
    yield podman_rig
    podman_rig.reset_stack()


@pytest.fixture
def ops_runner(runner_factory: RunnerFactory) -> RunnerProcess:
    return runner_factory(HOST)


@pytest.fixture
def start_ops_runner(runner_factory: RunnerFactory) -> Callable[..., RunnerProcess]:
    """A runner on the rig with some settings changed."""

    def start(**overrides: str) -> RunnerProcess:
        return runner_factory(HOST, **overrides)

    return start


@pytest.fixture
def call(job_bus: JobBus, ops_runner: RunnerProcess) -> Call:
    """Run one operation on the rig's runner, as the bot would; change ops carry an approval id."""

    async def run(operation: AnyOperation, *, approval: bool = True, timeout: float = 60) -> OpResult:
        approval_id = (
            await approved(job_bus, HOST, operation) if approval and operation.kind is not OpKind.READ else None
        )
        return await job_bus.call(HOST, operation, timeout=timeout, approval_id=approval_id)

    return run
