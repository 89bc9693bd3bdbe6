"""container.reach on the real podman rig: whether `backend` reaches Pyroscope at pyroscope:4040,
answered from podman's network records without an exec, and the same answer the exec gives
(container.http_get, the runbook's `podman exec backend curl`) in every state the stack is put in."""

from __future__ import annotations

import asyncio
import time

import pytest

from profbot.errors import OperationError
from profbot.ops.containers import ContainerHttpGet, ContainerReach, HttpProbe
from tests.integration.conftest import Call
from tests.rig.podman_rig import HOST_PYTHON_BINDS, IMAGE, PodmanRig


async def both(call: Call) -> tuple[HttpProbe, HttpProbe]:
    reach = await call(ContainerReach(container="backend"))
    inside = await call(ContainerHttpGet(container="backend"))
    assert isinstance(reach, HttpProbe) and isinstance(inside, HttpProbe)
    return reach, inside


async def answered_by_podmans_resolver(call: Call, timeout: float = 30) -> tuple[HttpProbe, HttpProbe]:
    """``both``, asked again until podman's resolver answered reach. One shared aardvark-dns serves
    every rig's networks, and while it reloads for a container that just joined (here or in another
    worker's rig) reach rightly falls back to asking from inside: the fallback has tests of its own."""
    deadline = time.monotonic() + timeout
    while True:
        reach, inside = await both(call)
        if (reach.client is not None and "no exec" in reach.client) or time.monotonic() > deadline:
            return reach, inside
        await asyncio.sleep(1)


async def test_healthy_pyroscope_is_reached_without_an_exec(call: Call, stack: PodmanRig) -> None:
    reach, inside = await answered_by_podmans_resolver(call)
    assert (reach.status_code, reach.body) == (inside.status_code, inside.body) == (200, "ready")
    assert reach.client is not None and "no exec" in reach.client
    # What it checked: the address podman's resolver on backend's network gives the name, and a GET there.
    address = stack.inspect("pyroscope", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}")
    gateway = stack.inspect("backend", "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}")
    assert f"GET {address}:4040" in reach.client and f"podman's resolver {gateway}" in reach.client
    assert "checked: no Dns/DnsSearch/DnsOptions/ExtraHosts of its own" in reach.client
    prefix = stack.inspect("backend", "{{range .NetworkSettings.Networks}}{{.IPPrefixLen}}{{end}}")
    assert f"the answer inside {gateway.rsplit('.', 1)[0]}.0/{prefix}" in reach.client
    assert reach.note is None


async def test_unready_pyroscope_answers_its_503_as_from_inside(call: Call, stack: PodmanRig) -> None:
    stack.podman("exec", "pyroscope", "sh", "-c", "echo 'ingester not ready' > /tmp/unhealthy")
    reach, inside = await answered_by_podmans_resolver(call)
    assert (reach.status_code, reach.body) == (inside.status_code, inside.body) == (503, "ingester not ready")
    assert reach.client is not None and "no exec" in reach.client


async def test_stopped_pyroscope_is_unreachable(call: Call, stack: PodmanRig) -> None:
    stack.podman("stop", "-t", "5", "pyroscope")
    reach, inside = await both(call)
    assert reach.status_code is None and inside.status_code is None
    assert reach.error is not None and "container pyroscope is exited" in reach.error


async def test_killed_pyroscope_is_unreachable(call: Call, stack: PodmanRig) -> None:
    stack.podman("kill", "--signal", "KILL", "pyroscope")
    stack.podman("wait", "pyroscope", check=False)
    reach, inside = await both(call)
    assert reach.status_code is None and inside.status_code is None
    assert reach.error is not None and "container pyroscope is exited" in reach.error
    assert reach.client == "podman's network records"  # no exec, no GET: nothing has that name's address


async def test_nothing_listening_is_connection_refused(call: Call, stack: PodmanRig) -> None:
    # The container runs, but its server is gone (pid 1 is a shell that outlives it).
    stack.podman("rm", "-f", "-t", "0", "pyroscope")
    stack.podman(
        "run", "-d", "--name", "pyroscope", "--network", network_of(stack, "backend"), "--network-alias", "pyroscope",
        "localhost/profbot-standin:latest", "/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done",
    )  # fmt: skip
    reach, inside = await answered_by_podmans_resolver(call)
    assert reach.status_code is None and inside.status_code is None
    assert reach.error is not None and "connection refused" in reach.error
    assert reach.client is not None and "no exec" in reach.client


async def test_pyroscope_on_another_network_is_unreachable_from_backend(call: Call, stack: PodmanRig) -> None:
    """Running and ready, but not on any network backend is on: backend cannot resolve the name,
    though the host reaches Pyroscope fine (its published port)."""
    own = network_of(stack, "pyroscope")
    other = f"{stack.project_name}_elsewhere"
    stack.podman("network", "create", other)
    try:
        stack.podman("network", "connect", other, "pyroscope")
        stack.podman("network", "disconnect", own, "pyroscope")
        reach, inside = await both(call)
        assert reach.status_code is None and inside.status_code is None
        assert reach.error
        # No container answers to the name on backend's network: asked from inside, as the runbook does.
        assert reach.client == inside.client == "python3"
    finally:
        stack.podman("rm", "-f", "-t", "0", "pyroscope", check=False)  # reset_stack recreates it
        stack.podman("network", "rm", "-f", other, check=False)


async def test_stopped_backend_reaches_nothing_as_the_exec_says(call: Call, stack: PodmanRig) -> None:
    stack.podman("stop", "-t", "5", "backend")
    with pytest.raises(OperationError, match="can only create exec sessions on running containers"):
        await call(ContainerReach(container="backend"))


async def test_a_backend_with_its_own_hosts_entry_is_asked_inside(call: Call, stack: PodmanRig) -> None:
    """backend's /etc/hosts sends `pyroscope` to itself (--add-host), where nothing listens: podman's
    resolver would say 200, the container gets connection refused, and reach answers what it gets."""
    backend_with(stack, "--add-host", "pyroscope:127.0.0.1")
    try:
        reach, inside = await both(call)
        assert reach.status_code is None and inside.status_code is None
        assert reach.client == inside.client == "python3"  # the exec probe, as the runbook's curl
        assert reach.note is not None and "it sets ExtraHosts" in reach.note
    finally:
        restore_backend(stack)


async def test_a_backend_with_its_own_dns_server_is_asked_inside(call: Call, stack: PodmanRig) -> None:
    gateway = stack.inspect("backend", "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}")
    backend_with(stack, "--dns", gateway)  # the same resolver, named explicitly: the same answer
    try:
        reach, inside = await both(call)
        assert (reach.status_code, reach.body) == (inside.status_code, inside.body) == (200, "ready")
        assert reach.client == inside.client == "python3"
        assert reach.note is not None and "it sets Dns" in reach.note
    finally:
        restore_backend(stack)


def backend_with(stack: PodmanRig, *options: str) -> None:
    """`backend` replaced by a container on the same network with ``options`` (python3 inside)."""
    network = network_of(stack, "backend")
    stack.podman("rm", "-f", "-t", "0", "backend")
    stack.podman(
        "run", "-d", "--name", "backend", "--network", network, "--network-alias", "backend", *options,
        *HOST_PYTHON_BINDS, IMAGE, "/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done",
    )  # fmt: skip


def restore_backend(stack: PodmanRig) -> None:
    stack.podman("rm", "-f", "-t", "0", "backend", check=False)
    stack.compose("up", "-d", "backend")


def network_of(stack: PodmanRig, container: str) -> str:
    return stack.inspect(container, "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}")
