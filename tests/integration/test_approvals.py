"""The runner's side of approvals, on the real podman rig: a change runs only as a step of a running
change request that lists it exactly, at most once, and only on the target the request was made for."""

from __future__ import annotations

import time

import pytest

from profbot.approvals.model import ChangeRequest, PlannedStep, RequestState, TargetIdentity
from profbot.approvals.store import ApprovalStore
from profbot.bus import JobBus
from profbot.errors import NotApproved, TargetChanged
from profbot.ops.containers import ContainerInspect, ContainerState, RestartContainer, StopContainer
from profbot.ops.contract import ChangeResult, OpKind
from profbot.ops.pyroscope import PurgePyroscopeData, SetPyroscopeRetention
from tests.integration.conftest import HOST
from tests.rig.approvals import approved
from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import RunnerProcess


def started_at(stack: PodmanRig, name: str) -> str:
    return stack.inspect(name, "{{.State.StartedAt}}")


async def test_an_unknown_approval_id_runs_nothing(
    job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig
) -> None:
    before = started_at(stack, "backend")
    with pytest.raises(NotApproved, match="no change request 'forged-approval' was approved"):
        await job_bus.call(HOST, RestartContainer(container="backend"), timeout=30, approval_id="forged-approval")
    assert started_at(stack, "backend") == before


async def test_an_operation_the_request_does_not_list_runs_nothing(
    job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig
) -> None:
    approval = await approved(job_bus, HOST, RestartContainer(container="backend"))
    with pytest.raises(NotApproved, match="not a step of approved request"):
        # Same request, another target: the approval does not stretch to it.
        await job_bus.call(HOST, StopContainer(container="backend"), timeout=30, approval_id=approval)
    assert stack.inspect("backend", "{{.State.Status}}") == "running"


async def test_each_approved_step_runs_once(job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig) -> None:
    restart = RestartContainer(container="backend")
    approval = await approved(job_bus, HOST, restart)
    first = await job_bus.call(HOST, restart, timeout=60, approval_id=approval)
    assert isinstance(first, ChangeResult)
    after_first = started_at(stack, "backend")
    with pytest.raises(NotApproved, match="already ran; it is not run twice"):
        await job_bus.call(HOST, restart, timeout=60, approval_id=approval)
    assert started_at(stack, "backend") == after_first


async def test_a_request_that_is_not_running_runs_nothing(
    job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig
) -> None:
    restart = RestartContainer(container="backend")
    request = ChangeRequest(
        procedure="INC-PROF-003", action="restart", kind=restart.kind, label="restart backend", host=HOST,
        target="backend", impact="test", requested_by="U0OPERATOR", channel="C0PROFOPS",
        steps=[PlannedStep(op=restart.name, params=restart.model_dump(mode="json"), kind=restart.kind, text="x")],
        state=RequestState.AWAITING_CONFIRMATION, expires_at=time.time() + 900,
    )  # fmt: skip
    await ApprovalStore(job_bus.redis, job_bus.keys.prefix).create(request)
    before = started_at(stack, "backend")
    with pytest.raises(NotApproved, match="is awaiting_confirmation, not approved to run"):
        await job_bus.call(HOST, restart, timeout=30, approval_id=request.id)
    assert started_at(stack, "backend") == before


async def test_a_target_recreated_since_the_approval_is_refused(
    job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig
) -> None:
    state = await job_bus.call(HOST, ContainerInspect(container="backend"), timeout=30)
    assert isinstance(state, ContainerState)
    restart = RestartContainer(container="backend")
    identity = TargetIdentity(kind="container", name="backend", id=state.id)
    approval = await approved(job_bus, HOST, restart, identity=identity)
    stack.compose("up", "-d", "--force-recreate", "backend")  # someone else replaced it meanwhile
    new_id = stack.inspect("backend", "{{.Id}}")
    assert new_id != state.id
    before = started_at(stack, "backend")
    with pytest.raises(TargetChanged, match=rf"was container {state.id[:12]} when this was approved and is now"):
        await job_bus.call(HOST, restart, timeout=30, approval_id=approval)
    assert started_at(stack, "backend") == before


async def test_a_volume_replaced_since_the_approval_is_refused(
    job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig
) -> None:
    identity = TargetIdentity(kind="volume", name="pyroscope_data", created_at="2020-01-01T00:00:00+00:00")
    approval = await approved(job_bus, HOST, PurgePyroscopeData(volume="pyroscope_data"), identity=identity)
    marker = stack.podman("volume", "inspect", "pyroscope_data", "--format", "{{.CreatedAt}}").stdout.strip()
    with pytest.raises(TargetChanged, match="volume pyroscope_data was created 2020-01-01"):
        await job_bus.call(HOST, PurgePyroscopeData(volume="pyroscope_data"), timeout=60, approval_id=approval)
    assert stack.podman("volume", "inspect", "pyroscope_data", "--format", "{{.CreatedAt}}").stdout.strip() == marker


async def test_an_approval_for_another_target_than_the_runners_own_is_refused(
    job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig
) -> None:
    """Retention names no container: it acts on the runner's Pyroscope, so an approval bound to
    another container (`/prof diagnose storage grafana`) must not stretch to it."""
    grafana = await job_bus.call(HOST, ContainerInspect(container="grafana"), timeout=30)
    assert isinstance(grafana, ContainerState)
    retention = SetPyroscopeRetention(config=str(stack.pyroscope_config), period="7d")
    identity = TargetIdentity(kind="container", name="grafana", id=grafana.id)
    approval = await approved(job_bus, HOST, retention, identity=identity)
    config = stack.pyroscope_config.read_text()
    with pytest.raises(NotApproved, match="acts on pyroscope on this host, but the approval was for container grafana"):
        await job_bus.call(HOST, retention, timeout=30, approval_id=approval)
    assert stack.pyroscope_config.read_text() == config


@pytest.mark.parametrize(
    ("kind", "decided_by", "why"),
    [
        (OpKind.DESTROY, "U0OPERATOR", "not approved by a second person"),  # approved by its own requester
        (OpKind.CHANGE, "U0APPROVER", "is a change"),  # a destroy step smuggled into a change request
    ],
)
async def test_a_destroy_not_approved_by_a_second_person_is_refused_by_the_runner(
    job_bus: JobBus, ops_runner: RunnerProcess, stack: PodmanRig, kind: OpKind, decided_by: str, why: str
) -> None:
    """The bot's decision table never lets this through; the runner refuses it anyway, as it would a
    request written into Redis by someone who got past the bot."""
    purge = PurgePyroscopeData(volume="pyroscope_data")
    request = ChangeRequest(
        procedure="INC-PROF-004", action="purge", kind=kind, label="Purge", host=HOST, target="pyroscope_data",
        impact="all profiles lost", requested_by="U0OPERATOR", channel="C0PROFOPS", state=RequestState.RUNNING,
        steps=[PlannedStep(op=purge.name, params=purge.model_dump(mode="json"), kind=OpKind.DESTROY, text="purge")],
        expires_at=time.time() + 900, decided_by=decided_by, decided_at=time.time(),
    )  # fmt: skip
    await ApprovalStore(job_bus.redis, job_bus.keys.prefix).create(request)
    marker = stack.podman("volume", "inspect", "pyroscope_data", "--format", "{{.CreatedAt}}").stdout.strip()
    with pytest.raises(NotApproved, match=why):
        await job_bus.call(HOST, purge, timeout=60, approval_id=request.id)
    assert stack.podman("volume", "inspect", "pyroscope_data", "--format", "{{.CreatedAt}}").stdout.strip() == marker
