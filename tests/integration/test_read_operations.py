"""Every read operation of the runner, on the real podman rig and its compose stack."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time

import httpx
import pytest

from profbot.errors import InvalidArgument, NotAllowed, OperationError, TargetNotFound
from profbot.ops.blocks import BlockListing, ListPyroscopeBlocks
from profbot.ops.containers import (
    ContainerDiskUsage,
    ContainerEnv,
    ContainerHttpGet,
    ContainerInspect,
    ContainerLogs,
    ContainerPackageVersion,
    ContainerProcesses,
    ContainerStats,
    ListProfiledContainers,
    ReadContainerFile,
    VolumeInspect,
)
from profbot.ops.pyroscope import GetPyroscopeConfig, GetPyroscopeVersion, PyroscopeFreshness
from tests.integration.conftest import HOST, Call
from tests.rig.podman_rig import PodmanRig
from tests.standins.pyroscope_blocks import meta


async def test_profiled_containers_are_found_by_label(call: Call) -> None:
    listed = await call(ListProfiledContainers())
    by_name = {c.name: c for c in listed.containers}
    assert set(by_name) == {"ai-yolo26", "backend"}  # not pyroscope, not database
    assert by_name["ai-yolo26"].service == "ai-yolo26"
    assert by_name["backend"].compose_service == "backend"
    assert by_name["backend"].status == "running"  # a word, though list() items carry a bare string
    # SERVICE_NAME and nothing else of the environment (ai-yolo26 also has HF_TOKEN).
    assert by_name["ai-yolo26"].service_name == "ai-yolo26"
    assert "hf_live_secret" not in listed.model_dump_json()


async def test_logs_filtered_like_grep_i_and_redacted(call: Call) -> None:
    result = await call(ContainerLogs(container="backend", tail=100, contains="pyroscope PROFILING"))
    assert result.matched == 1
    assert result.output.lines == ["INFO Pyroscope profiling initialized for backend"]
    everything = await call(ContainerLogs(container="backend", tail=100))
    text = "\n".join(everything.output.lines)
    assert "db-password-42" not in text
    assert "backend-secret" not in text
    assert "postgresql://app:[redacted]@db:5432/app" in text
    assert "Bearer [redacted]" in text
    assert everything.output.redactions == 2


async def test_logs_tail_is_bounded(call: Call) -> None:
    result = await call(ContainerLogs(container="backend", tail=1))
    assert len(result.output.lines) == 1


async def test_read_profiler_log(call: Call) -> None:
    for _ in range(50):  # the profiler writes its first line right after the container starts
        result = await call(ReadContainerFile(container="ai-yolo26", path="/tmp/profiler.log"))
        if result.output.lines:
            break
        await asyncio.sleep(0.1)
    assert result.exists
    assert result.output.lines[0].startswith("Starting profiler for ai-yolo26")


async def test_reading_a_missing_file_says_so(call: Call) -> None:
    result = await call(ReadContainerFile(container="backend", path="/tmp/profiler.log"))
    assert not result.exists
    assert result.output.lines == []


async def test_env_reads_only_named_variables(call: Call) -> None:
    result = await call(ContainerEnv(container="ai-yolo26", names=["SERVICE_NAME", "PROFILE_INTERVAL"]))
    assert result.values == {"SERVICE_NAME": "ai-yolo26", "PROFILE_INTERVAL": "30"}
    missing = await call(ContainerEnv(container="backend", names=["PROFILE_INTERVAL"]))
    assert missing.values == {"PROFILE_INTERVAL": None}


@pytest.mark.parametrize(
    "operation",
    [
        ContainerLogs(container="database"),
        ContainerEnv(container="database", names=["SERVICE_NAME"]),
        ReadContainerFile(container="database", path="/tmp/profiler.log"),
        ContainerProcesses(container="database", match="py-spy"),
        ContainerHttpGet(container="database"),
        ContainerDiskUsage(container="database"),
        ContainerStats(container="database", interval=0.2),
    ],
)
async def test_content_of_an_unmanaged_container_is_not_read(call: Call, operation: object) -> None:
    with pytest.raises(NotAllowed, match="database is not managed by profbot"):
        await call(operation)


async def test_env_cannot_be_asked_for_a_secret(call: Call) -> None:
    with pytest.raises(Exception, match="HF_TOKEN"):
        ContainerEnv(container="ai-yolo26", names=["HF_TOKEN"])  # type: ignore[list-item,unused-ignore]


async def test_processes_matching_a_name(call: Call) -> None:
    profilers = await call(ContainerProcesses(container="ai-yolo26", match="pyroscope"))
    assert any("pyroscope-profiler.sh ai-yolo26" in p.command for p in profilers.processes)
    for _ in range(30):
        spies = await call(ContainerProcesses(container="ai-yolo26", match="py-spy"))
        if spies.processes:
            break
        await asyncio.sleep(0.2)
    assert spies.processes[0].command.startswith("/bin/sh /bin/py-spy record")
    none = await call(ContainerProcesses(container="backend", match="py-spy"))
    assert none.processes == []


async def test_disk_usage_of_data_in_bytes_and_percent(call: Call, podman_rig: PodmanRig) -> None:
    usage = await call(ContainerDiskUsage(container="pyroscope", path="/data"))
    assert usage.size_bytes > 0
    assert usage.used_bytes + usage.available_bytes <= usage.size_bytes * 1.06  # reserved blocks
    assert 0 <= usage.use_percent <= 100
    df = podman_rig.podman("exec", "pyroscope", "df", "-P", "-k", "/data").stdout.splitlines()[-1].split()
    assert usage.used_bytes == int(df[2]) * 1024 or abs(usage.used_bytes - int(df[2]) * 1024) < 10 * 2**20


async def test_volume_inspect_reports_users_and_size(call: Call, stack: PodmanRig) -> None:
    stack.podman("exec", "pyroscope", "dd", "if=/dev/zero", "of=/data/block", "bs=1024", "count=2048")
    info = await call(VolumeInspect(volume="pyroscope_data"))
    assert info.name == "pyroscope_data"
    assert info.used_by == ["pyroscope"]
    assert info.size_bytes is not None and info.size_bytes >= 2048 * 1024
    assert info.created_at is not None


async def test_stats_cpu_is_current_not_the_lifetime_average(call: Call, stack: PodmanRig) -> None:
    idle = await call(ContainerStats(container="grafana", interval=1.0))
    assert idle.cpu_percent < 20
    assert idle.memory_bytes > 0
    # A busy loop in a container that idled until now: its lifetime average stays low.
    stack.podman("exec", "-d", "grafana", "sh", "-c", "while :; do :; done")
    # A whole core when the machine is quiet; on a loaded one the loop waits for a core, so the test
    # asks again (at most 30 s) until one second of it shows the burn.
    deadline = asyncio.get_running_loop().time() + 30
    busy = await call(ContainerStats(container="grafana", interval=1.0))
    while busy.cpu_percent <= 25 and asyncio.get_running_loop().time() < deadline:
        busy = await call(ContainerStats(container="grafana", interval=1.0))
    assert busy.cpu_percent > 25, busy
    lifetime = float(stack.podman("stats", "--no-stream", "--format", "{{.AvgCPU}}", "grafana").stdout.strip() or 0)
    assert lifetime < busy.cpu_percent


async def test_http_get_from_inside_a_container(call: Call) -> None:
    probe = await call(ContainerHttpGet(container="backend"))
    assert probe.status_code == 200
    assert probe.body == "ready"
    assert probe.client == "python3"  # no curl in that container; python3 answered


async def test_http_get_from_a_container_without_any_client_says_so(call: Call) -> None:
    probe = await call(ContainerHttpGet(container="ai-yolo26"))  # busybox only: no python3, no curl
    assert probe.status_code is None
    assert probe.error is not None and "no HTTP client in the container" in probe.error


async def test_http_get_when_pyroscope_is_down_names_the_error(call: Call, stack: PodmanRig) -> None:
    stack.podman("stop", "-t", "5", "pyroscope")
    probe = await call(ContainerHttpGet(container="backend"))
    assert probe.status_code is None
    assert probe.error


async def test_package_version_inside_the_backend(call: Call) -> None:
    result = await call(ContainerPackageVersion(container="backend", package="pyroscope-io"))
    assert result.installed
    assert result.version == "0.8.11"


async def test_package_version_without_python_is_an_error(call: Call) -> None:
    with pytest.raises(OperationError, match="no pip or python3 in ai-yolo26"):
        await call(ContainerPackageVersion(container="ai-yolo26"))


async def test_pyroscope_version(call: Call) -> None:
    version = await call(GetPyroscopeVersion())
    assert version.version == "1.18.0"
    assert version.major == 1


async def test_freshness_on_v1_uses_v1_queries_and_says_so(call: Call, podman_rig: PodmanRig) -> None:
    base = f"http://127.0.0.1:{podman_rig.pyroscope_port}"
    now = int(time.time())
    ingest = httpx.post(f"{base}/ingest", params={"name": "ai-yolo26", "from": now - 10, "until": now}, content=b"x")
    assert ingest.status_code == 200
    # The runbook's own query is refused by v1, which is why profbot does not send it.
    assert httpx.get(f"{base}/pyroscope/render", params={"query": "ai-yolo26", "from": "now-5m"}).status_code == 400
    fresh = await call(PyroscopeFreshness(services=["ai-yolo26", "backend"], minutes=5))
    assert fresh.api == "v1"
    assert {s.service: s.has_data for s in fresh.services} == {"ai-yolo26": True, "backend": False}
    assert "ai-yolo26" in fresh.seen_services
    assert fresh.note is not None and "v0 syntax" in fresh.note


async def test_pyroscope_config_reads_the_runbook_retention_as_invalid_for_v1(call: Call) -> None:
    config = await call(GetPyroscopeConfig())
    assert "retention-period: 15d" in config.output.lines
    assert not config.retention.valid_for_running_version
    assert "refuses at start-up" in config.retention.explanation


async def test_unknown_container_is_not_found(call: Call) -> None:
    with pytest.raises(TargetNotFound, match="no-such-service"):
        await call(ContainerLogs(container="no-such-service"))


def test_shell_injection_in_a_name_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValueError, match=r"string_pattern_mismatch|should match pattern"):
        ContainerLogs(container="ai-yolo26; rm -rf /")


async def test_a_forged_job_with_an_injected_name_is_refused_by_the_runner(
    job_bus: object, call: Call, redis_url: str, prefix: str
) -> None:
    import redis.asyncio as aioredis

    from profbot.jobs import Job
    from profbot.keys import Keys

    now = time.time()
    job = Job(
        host=HOST, op="container.logs", params={"container": "ai-yolo26; rm -rf /"}, submitted_at=now, deadline=now + 10
    )
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    await client.xadd(Keys(prefix).jobs(HOST), {"job": job.model_dump_json()})
    for _ in range(100):
        raw = await client.get(Keys(prefix).result(job.id))
        if raw:
            break
        await asyncio.sleep(0.05)
    await client.aclose()
    assert raw is not None
    assert '"error_code":"invalid_argument"' in raw
    assert InvalidArgument.code == "invalid_argument"


async def test_inspect_names_the_host_ports_a_container_publishes(call: Call, podman_rig: PodmanRig) -> None:
    # What lets INC-PROF-001 tell that PYROSCOPE_URL (127.0.0.1:<port>) leads to this container.
    state = await call(ContainerInspect(container="pyroscope"))
    assert podman_rig.pyroscope_port in state.published_ports
    backend = await call(ContainerInspect(container="backend"))
    assert podman_rig.pyroscope_port not in backend.published_ports


async def test_pyroscope_blocks_written_inside_the_container_are_listed_from_the_volume(
    call: Call, stack: PodmanRig
) -> None:
    # A block as Pyroscope writes it at /data/<tenant>/local/<ULID>/meta.json (its data path, the
    # volume's mount), from inside the container; beside it a block whose meta.json is a symlink to a
    # file outside the volume, which the runner (root on the host) must not follow.
    now = time.time()
    document = meta("01JEQ7M1ZK0000000000000000", now - 3600, now, 3 * 2**20)
    write = "mkdir -p /data/anonymous/local/01JEQ7M1ZK0000000000000000 && cat > /data/anonymous/local/01JEQ7M1ZK0000000000000000/meta.json"  # noqa: E501
    subprocess.run(["podman", "exec", "-i", "pyroscope", "sh", "-c", write], input=json.dumps(document),
                   text=True, env=stack.env, check=True, capture_output=True)  # fmt: skip
    link = "mkdir -p /data/anonymous/local/01JEQ7M1ZM0000000000000000 && ln -s /etc/passwd /data/anonymous/local/01JEQ7M1ZM0000000000000000/meta.json"  # noqa: E501
    stack.podman("exec", "pyroscope", "sh", "-c", link)

    listing = await call(ListPyroscopeBlocks(volume="pyroscope_data"))

    assert isinstance(listing, BlockListing) and listing.layout == "v1"
    [block] = listing.blocks
    assert (block.tenant, block.ulid, block.size_bytes, block.level) == (
        "anonymous", "01JEQ7M1ZK0000000000000000", 3 * 2**20, 1,
    )  # fmt: skip
    assert block.max_time - block.min_time == pytest.approx(3600, abs=0.01)
    [broken] = listing.broken
    assert broken.name == "01JEQ7M1ZM0000000000000000" and broken.reason.startswith("meta.json not readable")


async def test_pyroscope_blocks_of_another_volume_are_refused(call: Call) -> None:
    with pytest.raises(NotAllowed, match="not the Pyroscope data volume this runner manages"):
        await call(ListPyroscopeBlocks(volume="grafana_data"))
