"""Operations on containers and volumes: podman's inspect, logs, exec, top, stats, df; restart,
stop and start."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from profbot.ops.arguments import (
    KnownDiskPath,
    KnownEnvName,
    KnownFile,
    KnownPackage,
    KnownProbeURL,
    KnownProcess,
    KnownTool,
    LogFilter,
    ResourceName,
)
from profbot.ops.contract import CATALOG, ChangeResult, Operation, OpKind, OpResult, TextOutput

# ---------------------------------------------------------------------------- read


class ContainerState(OpResult):
    name: str
    id: str
    image: str
    status: str  # podman's word: created, running, paused, exited, stopped, ...
    running: bool
    exit_code: int
    oom_killed: bool
    restart_count: int
    labels: dict[str, str] = Field(default_factory=dict)
    healthcheck_defined: bool
    health: str | None  # healthy, unhealthy, starting; None without a healthcheck
    health_failing_streak: int
    health_last_output: str | None
    started_at: datetime | None
    finished_at: datetime | None
    health_checked_at: datetime | None = None  # when the last recorded health check ended
    published_ports: list[int] = Field(default_factory=list)  # the host's ports it publishes


@CATALOG.register("container.inspect", OpKind.READ, timeout=20)
class ContainerInspect(Operation[ContainerState]):
    """State, exit code, restarts and health of one container.

    With ``run_healthcheck`` the container's healthcheck is run first, where one is defined and
    the container runs: podman 4.3 without systemd never runs it on its own schedule, so the
    stored health would be stale.
    """

    container: ResourceName
    run_healthcheck: bool = False


class ContainerSummary(OpResult):
    name: str
    id: str
    service: str | None  # label pyroscope.service
    compose_service: str | None  # label com.docker.compose.service
    status: str
    health: str | None
    service_name: str | None = None  # its SERVICE_NAME environment variable (only that one is read)

    @property
    def profiled_as(self) -> str:
        """The service name its profiles should arrive under: the ``pyroscope.service`` label, else
        its ``SERVICE_NAME``, else (neither set, itself a reason for no data) the container's name."""
        return self.service or self.service_name or self.name


class ContainerList(OpResult):
    containers: list[ContainerSummary]


@CATALOG.register("containers.profiled", OpKind.READ, timeout=15)
class ListProfiledContainers(Operation[ContainerList]):
    """Containers labelled pyroscope.profile=true, with state and health."""


class LogsResult(OpResult):
    container: str
    output: TextOutput
    matched: int | None  # lines that matched the filter, before the bound; None without a filter


@CATALOG.register("container.logs", OpKind.READ, timeout=15)
class ContainerLogs(Operation[LogsResult]):
    container: ResourceName
    tail: Annotated[int, Field(ge=1, le=2000)] = 100
    contains: LogFilter | None = None


class FileResult(OpResult):
    container: str
    path: str
    exists: bool
    output: TextOutput


@CATALOG.register("container.read_file", OpKind.READ, timeout=15)
class ReadContainerFile(Operation[FileResult]):
    container: ResourceName
    path: KnownFile


class EnvResult(OpResult):
    container: str
    values: dict[str, str | None]  # None: not set


@CATALOG.register("container.env", OpKind.READ, timeout=10)
class ContainerEnv(Operation[EnvResult]):
    container: ResourceName
    names: Annotated[list[KnownEnvName], Field(min_length=1, max_length=4)]


class ProcessInfo(OpResult):
    pid: int
    user: str
    cpu_percent: float  # podman top's %CPU: lifetime average of the process
    elapsed: str
    command: str


class ProcessList(OpResult):
    container: str
    match: str
    processes: list[ProcessInfo]


@CATALOG.register("container.processes", OpKind.READ, timeout=10)
class ContainerProcesses(Operation[ProcessList]):
    """Processes whose program (or interpreted script) name contains ``match``: the runbook's
    `pgrep -a`, and its `ps aux | grep` without counting the grep, or the runner's own probes."""

    container: ResourceName
    match: KnownProcess


class DiskUsage(OpResult):
    container: str
    path: str
    filesystem: str
    size_bytes: int
    used_bytes: int
    available_bytes: int
    use_percent: float


@CATALOG.register("container.disk_usage", OpKind.READ, timeout=10)
class ContainerDiskUsage(Operation[DiskUsage]):
    """`df` of a path inside a container (the runbook's `df -h /data`), in bytes and %."""

    container: ResourceName
    path: KnownDiskPath = "/data"


class VolumeInfo(OpResult):
    name: str
    driver: str
    mountpoint: str
    created_at: datetime | None
    labels: dict[str, str]
    size_bytes: int | None  # bytes under the mountpoint, when the runner can read it
    used_by: list[str]  # container names


@CATALOG.register("volume.inspect", OpKind.READ, timeout=30)
class VolumeInspect(Operation[VolumeInfo]):
    volume: ResourceName


class StatsResult(OpResult):
    container: str
    cpu_percent: float  # over the sampling interval; 100 = one full core
    online_cpus: int
    memory_bytes: int
    memory_limit_bytes: int
    memory_percent: float
    interval_seconds: float


@CATALOG.register("container.stats", OpKind.READ, timeout=10)
class ContainerStats(Operation[StatsResult]):
    """Current CPU (two samples, not podman's lifetime average) and memory."""

    container: ResourceName
    interval: Annotated[float, Field(ge=0.2, le=10)] = 1.0

    def time_budget(self) -> float:
        return self.timeout + self.interval


class HttpProbe(OpResult):
    container: str
    url: str
    status_code: int | None
    body: str
    client: str | None  # which client inside the container made the request
    error: str | None = None
    note: str | None = None  # container.reach: why it was asked from inside the container


@CATALOG.register("container.http_get", OpKind.READ, timeout=15)
class ContainerHttpGet(Operation[HttpProbe]):
    """An HTTP GET made from inside a container (the runbook's `podman exec backend curl ...`)."""

    container: ResourceName
    url: KnownProbeURL = "http://pyroscope:4040/ready"


class PackageVersion(OpResult):
    container: str
    package: str
    installed: bool
    version: str | None
    how: str  # the command that answered


@CATALOG.register("container.reach", OpKind.READ, timeout=15)
class ContainerReach(Operation[HttpProbe]):
    """Whether a container reaches an HTTP service by the name it uses for it (the runbook's
    `podman exec backend curl -s http://pyroscope:4040/ready`), asked without an exec where podman's
    network settings show the way: the name's container on a network the two share (a DNS-enabled
    one, where podman's resolver answers that name), its address there, and that address asked from
    the host. Where they do not show it, the GET is made from inside the container, as
    :class:`ContainerHttpGet`. ``client`` says which was done."""

    container: ResourceName
    url: KnownProbeURL = "http://pyroscope:4040/ready"


@CATALOG.register("container.package_version", OpKind.READ, timeout=15)
class ContainerPackageVersion(Operation[PackageVersion]):
    """A Python package's version inside a container (the runbook's `pip show pyroscope-io`)."""

    container: ResourceName
    package: KnownPackage = "pyroscope-io"


class ToolVersion(OpResult):
    container: str
    tool: str
    installed: bool
    version: str | None


@CATALOG.register("container.tool_version", OpKind.READ, timeout=10)
class ContainerToolVersion(Operation[ToolVersion]):
    """Whether a tool is installed in a container, and its version (`py-spy --version`)."""

    container: ResourceName
    tool: KnownTool = "py-spy"


# ---------------------------------------------------------------------------- change


@CATALOG.register("container.restart", OpKind.CHANGE, timeout=60)
class RestartContainer(Operation[ChangeResult]):
    container: ResourceName
    stop_timeout: Annotated[int, Field(ge=1, le=300)] = 10

    def time_budget(self) -> float:
        return self.timeout + self.stop_timeout


@CATALOG.register("container.stop", OpKind.CHANGE, timeout=60)
class StopContainer(Operation[ChangeResult]):
    container: ResourceName
    stop_timeout: Annotated[int, Field(ge=1, le=300)] = 10

    def time_budget(self) -> float:
        return self.timeout + self.stop_timeout


@CATALOG.register("container.start", OpKind.CHANGE, timeout=60)
class StartContainer(Operation[ChangeResult]):
    container: ResourceName
