"""Change and destroy operations of the runner, on the real podman rig and its compose stack.

Each test leaves the stack to the `stack` fixture, which puts the operator's files back and
recreates every container afterwards.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from profbot.errors import InvalidArgument, NotAllowed, OperationError, OutcomeUnknown, TargetNotFound
from profbot.ops.compose import RecreateService, SetGlobalProfiling, SetServiceProfiling
from profbot.ops.containers import ContainerEnv, ReadContainerFile, RestartContainer, StartContainer, StopContainer
from profbot.ops.pyroscope import (
    BackupPyroscopeConfig,
    GetPyroscopeConfig,
    PullPyroscopeImage,
    PurgePyroscopeData,
    RestorePyroscopeConfig,
    SetPyroscopeRetention,
)
from tests.integration.conftest import Call
from tests.rig.podman_rig import IMAGE, PodmanRig

V1_CONFIG_WITH_BUCKET = """\
# Pyroscope v1, with a filesystem bucket
storage:
  backend: filesystem
  filesystem:
    dir: /data/bucket
server:
  http_listen_port: 4040
"""


def started_at(rig: PodmanRig, name: str) -> str:
    return rig.inspect(name, "{{.State.StartedAt}}")


async def test_a_change_without_an_approval_id_is_refused_and_nothing_happens(call: Call, stack: PodmanRig) -> None:
    before = started_at(stack, "ai-yolo26")
    with pytest.raises(NotAllowed, match="needs the id of the approval"):
        await call(RestartContainer(container="ai-yolo26"), approval=False)
    assert started_at(stack, "ai-yolo26") == before


async def test_restart_gives_the_process_its_sigterm(call: Call, stack: PodmanRig) -> None:
    before = started_at(stack, "backend")
    result = await call(RestartContainer(container="backend", stop_timeout=10))
    assert started_at(stack, "backend") != before
    assert result.steps == ["restarted backend (stop timeout 10s)"]
    # podman's API default would SIGKILL at once; the graceful line proves SIGTERM came first.
    assert "SIGTERM received, shutting down gracefully" in stack.podman("logs", "backend").stdout


async def test_stop_twice_then_start(call: Call, stack: PodmanRig) -> None:
    await call(StopContainer(container="ai-yolo26", stop_timeout=5))
    await call(StopContainer(container="ai-yolo26", stop_timeout=5))  # already stopped: podman answers 304
    assert stack.inspect("ai-yolo26", "{{.State.Status}}") == "exited"
    await call(StartContainer(container="ai-yolo26"))
    assert stack.inspect("ai-yolo26", "{{.State.Status}}") == "running"


async def test_an_unmanaged_container_cannot_be_changed(call: Call, stack: PodmanRig) -> None:
    before = started_at(stack, "database")
    with pytest.raises(NotAllowed, match="database is not managed by profbot"):
        await call(RestartContainer(container="database"))
    assert started_at(stack, "database") == before


async def test_a_missing_container_is_not_found(call: Call) -> None:
    with pytest.raises(TargetNotFound):
        await call(RestartContainer(container="ai-florence"))


async def test_recreate_keeps_compose_labels_volume_and_network(call: Call, stack: PodmanRig) -> None:
    old_id = stack.inspect("pyroscope", "{{.Id}}")
    stack.podman("exec", "pyroscope", "sh", "-c", "echo kept > /data/marker")
    result = await call(RecreateService(service="pyroscope"))
    assert result.container_id is not None and result.container_id != old_id
    assert stack.inspect("pyroscope", '{{index .Config.Labels "com.docker.compose.service"}}') == "pyroscope"
    assert stack.podman("exec", "pyroscope", "cat", "/data/marker").stdout.strip() == "kept"
    stack.wait_pyroscope_ready()
    fetch = "import urllib.request; print(urllib.request.urlopen('http://pyroscope:4040/ready').read())"
    probe = stack.podman("exec", "backend", "python3", "-c", fetch)
    assert "ready" in probe.stdout


async def test_recreate_refuses_an_unmanaged_service(call: Call) -> None:
    with pytest.raises(NotAllowed, match="compose service database is not managed"):
        await call(RecreateService(service="database"))


async def test_raise_the_profile_interval_of_one_service(call: Call, stack: PodmanRig) -> None:
    compose_before = stack.compose_file.read_text()
    result = await call(SetServiceProfiling(service="ai-yolo26", profile_interval=60))
    assert "set PROFILE_INTERVAL=60 for ai-yolo26" in result.steps[0]
    env = await call(ContainerEnv(container="ai-yolo26", names=["PROFILE_INTERVAL", "PYROSCOPE_ENABLED"]))
    assert env.values == {"PROFILE_INTERVAL": "60", "PYROSCOPE_ENABLED": "true"}
    assert stack.compose_file.read_text() == compose_before  # the operators' file is untouched
    assert "PROFILE_INTERVAL=60" in (stack.project / "docker-compose.profbot.yml").read_text()
    # backend was not recreated
    assert stack.podman("exec", "backend", "printenv", "PROFILE_INTERVAL", check=False).stdout == ""


async def test_disable_profiling_for_one_service(call: Call, stack: PodmanRig) -> None:
    await call(SetServiceProfiling(service="ai-yolo26", pyroscope_enabled=False))
    time.sleep(1)
    log = await call(ReadContainerFile(container="ai-yolo26", path="/tmp/profiler.log"))
    assert not log.exists  # the new container's entrypoint started no profiler
    env = await call(ContainerEnv(container="backend", names=["PYROSCOPE_ENABLED"]))
    assert env.values == {"PYROSCOPE_ENABLED": "true"}


async def test_set_profiling_needs_something_to_set(call: Call) -> None:
    with pytest.raises(InvalidArgument, match="nothing to set"):
        await call(SetServiceProfiling(service="ai-yolo26"))


async def test_disable_profiling_globally_through_dotenv(call: Call, stack: PodmanRig) -> None:
    result = await call(SetGlobalProfiling(enabled=False))
    assert "PYROSCOPE_ENABLED=false" in stack.env_file.read_text()
    assert "GRAFANA_ADMIN_PASSWORD=admin-secret-1" in stack.env_file.read_text()  # the rest of .env kept
    assert "ai-yolo26 backend" in result.steps[1]
    for name in ("ai-yolo26", "backend"):
        env = await call(ContainerEnv(container=name, names=["PYROSCOPE_ENABLED"]))
        assert env.values == {"PYROSCOPE_ENABLED": "false"}
    time.sleep(1)
    assert "Pyroscope profiling disabled" in stack.podman("logs", "backend").stdout
    await call(SetGlobalProfiling(enabled=True))
    assert stack.env_file.read_text().count("PYROSCOPE_ENABLED=") == 1


async def test_retention_with_the_runbook_key_on_v1_is_refused_with_what_would_work(
    call: Call, stack: PodmanRig
) -> None:
    before = stack.pyroscope_config.read_text()
    with pytest.raises(InvalidArgument) as refused:
        await call(SetPyroscopeRetention(config=str(stack.pyroscope_config), period="7d"))
    message = str(refused.value)
    assert "would stop it from starting" in message
    assert "storage.backend" in message
    assert stack.pyroscope_config.read_text() == before
    assert list(stack.pyroscope_config.parent.glob("*.bak")) == []


async def test_retention_on_v1_with_a_bucket_is_set_backed_up_and_applied(call: Call, stack: PodmanRig) -> None:
    stack.pyroscope_config.write_text(V1_CONFIG_WITH_BUCKET)
    old_id = stack.inspect("pyroscope", "{{.Id}}")
    result = await call(SetPyroscopeRetention(config=str(stack.pyroscope_config), period="7d"))
    text = stack.pyroscope_config.read_text()
    assert "compactor_blocks_retention_period: 7d" in text
    assert "# Pyroscope v1, with a filesystem bucket" in text  # comments survive the edit
    assert result.backup_path is not None
    assert Path(result.backup_path).read_text() == V1_CONFIG_WITH_BUCKET
    assert stack.inspect("pyroscope", "{{.Id}}") != old_id  # recreated to load it
    config = await call(GetPyroscopeConfig())
    assert config.retention.key == "limits.compactor_blocks_retention_period"
    assert config.retention.value == "7d"
    assert config.retention.valid_for_running_version


async def test_backup_and_restore_the_config(call: Call, stack: PodmanRig) -> None:
    original = stack.pyroscope_config.read_text()
    first = await call(BackupPyroscopeConfig())
    stack.pyroscope_config.write_text("# edited\n" + original)
    second = await call(BackupPyroscopeConfig())
    assert first.backup_path != second.backup_path  # a second backup never overwrites the first
    assert Path(first.backup_path).read_text() == original
    stack.pyroscope_config.write_text("broken: [\n")
    old_id = stack.inspect("pyroscope", "{{.Id}}")
    restored = await call(RestorePyroscopeConfig())
    assert stack.pyroscope_config.read_text() == "# edited\n" + original  # the latest backup
    assert restored.steps[1] == "podman-compose up -d --force-recreate pyroscope"
    assert stack.inspect("pyroscope", "{{.Id}}") != old_id  # and Pyroscope loaded it


async def test_pull_without_a_registry_fails_clearly_and_changes_nothing(call: Call, stack: PodmanRig) -> None:
    images_before = stack.podman("images", "-q").stdout
    with pytest.raises(OperationError) as failed:
        await call(PullPyroscopeImage(tag="1.19.0"), timeout=120)
    assert "grafana/pyroscope" in str(failed.value)
    assert stack.podman("images", "-q").stdout == images_before


async def test_purge_deletes_the_data_and_pyroscope_answers_again(call: Call, stack: PodmanRig) -> None:
    stack.podman("exec", "pyroscope", "sh", "-c", "echo history > /data/old-block")
    created_before = stack.podman("volume", "inspect", "pyroscope_data", "--format", "{{.CreatedAt}}").stdout
    result = await call(PurgePyroscopeData(volume="pyroscope_data"), timeout=120)
    assert result.steps[:3] == [
        "stopped pyroscope",
        "removed container pyroscope (compose creates it again)",
        "removed volume pyroscope_data: all profiling history deleted",
    ]
    stack.wait_pyroscope_ready()
    assert stack.podman("exec", "pyroscope", "ls", "/data").stdout.strip() == ""
    created_after = stack.podman("volume", "inspect", "pyroscope_data", "--format", "{{.CreatedAt}}").stdout
    assert created_after != created_before
    # other containers untouched
    assert stack.inspect("backend", "{{.State.Status}}") == "running"


async def test_purge_refuses_when_another_container_uses_the_volume(call: Call, stack: PodmanRig) -> None:
    stack.podman("exec", "pyroscope", "sh", "-c", "echo history > /data/old-block")
    stack.podman("run", "-d", "--name", "data-reader", "-v", "pyroscope_data:/data", IMAGE, "sleep", "600")
    with pytest.raises(NotAllowed, match="also used by data-reader"):
        await call(PurgePyroscopeData(volume="pyroscope_data"), timeout=60)
    assert stack.inspect("pyroscope", "{{.State.Status}}") == "running"  # nothing was stopped
    assert stack.podman("exec", "pyroscope", "cat", "/data/old-block").stdout.strip() == "history"
    stack.podman("rm", "-f", "-t", "0", "data-reader")


async def test_purge_without_approval_deletes_nothing(call: Call, stack: PodmanRig) -> None:
    stack.podman("exec", "pyroscope", "sh", "-c", "echo history > /data/old-block")
    with pytest.raises(NotAllowed):
        await call(PurgePyroscopeData(volume="pyroscope_data"), approval=False)
    assert stack.podman("exec", "pyroscope", "cat", "/data/old-block").stdout.strip() == "history"


async def test_purge_naming_another_volume_is_refused_and_nothing_is_stopped(call: Call, stack: PodmanRig) -> None:
    """The volume a purge names is approved with it; the runner deletes only its configured one."""
    stack.podman("exec", "pyroscope", "sh", "-c", "echo history > /data/old-block")
    stack.podman("volume", "create", "grafana_data_copy")
    try:
        before = started_at(stack, "pyroscope")
        with pytest.raises(NotAllowed, match="volume grafana_data_copy is not the Pyroscope data volume this runner"):
            await call(PurgePyroscopeData(volume="grafana_data_copy"), timeout=60)
        assert started_at(stack, "pyroscope") == before  # nothing was stopped
        assert stack.podman("exec", "pyroscope", "cat", "/data/old-block").stdout.strip() == "history"
        assert stack.podman("volume", "exists", "grafana_data_copy", check=False).returncode == 0
    finally:
        stack.podman("volume", "rm", "-f", "grafana_data_copy")


async def test_retention_naming_another_config_file_is_refused_and_nothing_is_written(
    call: Call, stack: PodmanRig, tmp_path: Path
) -> None:
    stack.pyroscope_config.write_text(V1_CONFIG_WITH_BUCKET)
    other = tmp_path / "server.yml"
    other.write_text(V1_CONFIG_WITH_BUCKET)
    old_id = stack.inspect("pyroscope", "{{.Id}}")
    with pytest.raises(NotAllowed, match=f"{other} is not the Pyroscope config this runner manages"):
        await call(SetPyroscopeRetention(config=str(other), period="7d"))
    assert stack.pyroscope_config.read_text() == V1_CONFIG_WITH_BUCKET
    assert other.read_text() == V1_CONFIG_WITH_BUCKET
    assert list(stack.pyroscope_config.parent.glob("*.bak")) == []
    assert stack.inspect("pyroscope", "{{.Id}}") == old_id


async def test_a_purge_that_fails_midway_says_which_steps_were_done(call: Call, stack: PodmanRig) -> None:
    # The image compose must start Pyroscope from cannot be pulled (no registry): `compose up`
    # fails after the volume is gone. Nobody may be left believing the data is still there.
    (stack.project / "docker-compose.profbot.yml").write_text(
        "services:\n  pyroscope:\n    image: localhost/profbot-missing-image:none\n"
    )
    with pytest.raises(OperationError) as failed:
        await call(PurgePyroscopeData(volume="pyroscope_data"), timeout=120)
    said = str(failed.value)
    assert "done before it failed: stopped pyroscope; removed container pyroscope" in said
    assert "removed volume pyroscope_data: all profiling history deleted" in said
    assert "podman-compose up" in said  # what failed


async def test_a_compose_step_cut_at_the_deadline_is_an_unknown_outcome_that_names_it(
    call: Call, stack: PodmanRig
) -> None:
    # A backend that takes ten seconds to stop (its stop signal one it ignores), and six seconds for
    # its recreate: podman-compose is stopped inside the deadline and the answer says what was cut,
    # and that podman may still do it.
    override = stack.project / "docker-compose.profbot.yml"  # profbot's own, which the runner passes too
    override.write_text("services:\n  backend:\n    stop_signal: SIGWINCH\n")
    stack.compose("-f", str(override), "up", "-d", "--force-recreate", "backend")
    with pytest.raises(OutcomeUnknown) as cut:
        await call(SetServiceProfiling(service="backend", profile_interval=60), timeout=6)
    said = str(cut.value)
    assert "podman-compose up -d --force-recreate backend did not finish" in said
    assert "outcome unknown (podman may have done it)" in said
    assert "Done before that: set PROFILE_INTERVAL=60 for backend" in said
