"""Fixtures over the real rig: Redis, an isolated podman service, the Slack stand-in, and
profbot's own processes."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from tests.rig.fault_figures import FIGURES
from tests.rig.podman_rig import PodmanRig
from tests.rig.ports import published_port
from tests.rig.processes import RunnerProcess
from tests.rig.redis_rig import SHARED_URL, PrivateRedis, delete_prefix, new_prefix, shared_redis_answers
from tests.rig.slack_requests import APPROVER, APPROVERS_GROUP
from tests.rig.slack_standin import SlackStandIn

# The slow, mostly waiting kinds first, the quick unit tests last: xdist's workers, handed tests
# in this order as they free up (the Makefile's --dist loadgroup), spend the long waits (a killed
# process's lease, a storm's Retry-After) side by side from the start, and end on short tests
# instead of waiting on one long test begun late.
RUN_ORDER = ("tests/faults/", "tests/e2e/", "tests/integration/", "tests/unit/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid
        return next((i for i, prefix in enumerate(RUN_ORDER) if path.startswith(prefix)), len(RUN_ORDER))

    items.sort(key=rank)  # stable: each file's tests keep their order


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A pytest-xdist worker hands its fault figures to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fault_figures"] = FIGURES.as_data()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """The controller adds up its workers' fault figures."""
    figures = getattr(node, "workeroutput", {}).get("fault_figures")
    if figures:
        FIGURES.add(figures)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault suite's figures, when any of its tests ran (tests/rig/fault_figures.py)."""
    if FIGURES.tests and getattr(terminalreporter.config, "workerinput", None) is None:
        terminalreporter.write_sep("=", "fault suite")
        terminalreporter.write_line(FIGURES.line())
        for leak in FIGURES.leaks:
            terminalreporter.write_line(f"  leaked: {leak}")


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    if shared_redis_answers():
        yield SHARED_URL
        return
    private = PrivateRedis().start()
    try:
        yield private.url
    finally:
        private.close()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    value = new_prefix()
    yield value
    delete_prefix(redis_url, value)


@pytest.fixture(scope="session")
def podman_rig() -> Iterator[PodmanRig]:
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: run `make test` (it installs the system packages)")
    rig = PodmanRig()
    rig.start()
    rig.start_stack(published_port())
    try:
        yield rig
    finally:
        rig.close()


@pytest.fixture
def pyroscope(podman_rig: PodmanRig) -> PodmanRig:
    """The rig with `pyroscope` running and ready at the start of the test."""
    podman_rig.ensure_pyroscope_healthy()
    return podman_rig


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    standin = SlackStandIn().start()
    standin.usergroups[APPROVERS_GROUP] = [APPROVER]
    try:
        yield standin
    finally:
        standin.close()


RunnerFactory = Callable[..., RunnerProcess]


@pytest.fixture
def runner_factory(redis_url: str, prefix: str, podman_rig: PodmanRig) -> Iterator[RunnerFactory]:
    """Start `profbot runner` processes on the rig: ``start(host_id, **settings_overrides)``."""
    started: list[RunnerProcess] = []

    def start(host_id: str, **overrides: str) -> RunnerProcess:
        settings = {**podman_rig.runner_env(), **overrides}
        process = RunnerProcess(redis_url=redis_url, prefix=prefix, host_id=host_id, settings=settings).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
        print(f"---- profbot runner {process.host_id} log ----\n{process.log()}")  # shown when a test fails
