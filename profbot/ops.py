"""The operation contract between the bot and the runners.

A runner executes only the operations declared here: each is a pydantic model of its arguments
(validated on both sides of the bus, unknown fields refused) that names its result model and its
kind. The bot builds requests from these models; ``runner/operations.py`` implements each one and
refuses to start if any is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from profbot.settings import NAME_PATTERN


class OpKind(StrEnum):
    READ = "read"  # free for operators
    CHANGE = "change"  # needs a confirmation (and an approval id on the bus)
    DESTROY = "destroy"  # needs a typed confirmation and a second person's approval


# Container, service and volume names: podman's own rule, so nothing else (spaces, `;`, `/`)
# can ever reach an argument list.
ResourceName = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=128)]


class OpResult(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Operation(BaseModel):
    """Arguments of one operation. Subclasses set ``name``, ``kind`` and ``result_type``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str]
    kind: ClassVar[OpKind]
    result_type: ClassVar[type[OpResult]]


OpType = TypeVar("OpType", bound=type[Operation])


class OperationCatalog:
    """The registry of declared operations, keyed by name."""

    def __init__(self) -> None:
        self._ops: dict[str, type[Operation]] = {}

    def register(self, name: str, kind: OpKind, result_type: type[OpResult]) -> Callable[[OpType], OpType]:
        def decorate(cls: OpType) -> OpType:
            if name in self._ops:
                raise ValueError(f"operation {name!r} declared twice")
            if not issubclass(result_type, OpResult):
                raise TypeError(f"operation {name!r}: result type must derive from OpResult")
            cls.name, cls.kind, cls.result_type = name, kind, result_type
            self._ops[name] = cls
            return cls

        return decorate

    def get(self, name: str) -> type[Operation] | None:
        return self._ops.get(name)

    def parse(self, name: str, params: dict[str, Any]) -> Operation:
        """Validate a request that came over the bus. Raises KeyError or ValidationError."""
        cls = self._ops[name]
        return cls.model_validate(params)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._ops))

    def __contains__(self, name: object) -> bool:
        return name in self._ops


CATALOG = OperationCatalog()


# ---------------------------------------------------------------------------- Pyroscope


class ReadyResult(OpResult):
    url: str
    ready: bool
    status_code: int | None
    body: str
    latency_ms: float
    error: str | None = None  # set when no HTTP answer came back at all


@CATALOG.register("pyroscope.ready", OpKind.READ, ReadyResult)
class PyroscopeReady(Operation):
    """GET /ready on the Pyroscope server, as seen from the runner's host."""


# ---------------------------------------------------------------------------- containers


class ContainerState(OpResult):
    name: str
    id: str
    image: str
    status: str  # podman's word: created, running, paused, exited, stopped, ...
    running: bool
    exit_code: int
    oom_killed: bool
    restart_count: int
    labels: dict[str, str] = {}
    healthcheck_defined: bool
    health: str | None  # healthy, unhealthy, starting; None without a healthcheck
    health_failing_streak: int
    health_last_output: str | None
    started_at: datetime | None
    finished_at: datetime | None


@CATALOG.register("container.inspect", OpKind.READ, ContainerState)
class ContainerInspect(Operation):
    """State, exit code, restarts and health of one container.

    With ``run_healthcheck`` the container's healthcheck is run first, where one is defined and
    the container runs: podman 4.3 without systemd never runs it on its own schedule, so the
    stored health would be stale.
    """

    container: ResourceName
    run_healthcheck: bool = False


# Paths, URLs, env names, process names and packages an operation may name: fixed allowlists,
# so an argument can select among known things but never inject a new one.
KnownFile = Literal["/tmp/profiler.log", "/etc/pyroscope/server.yml"]  # noqa: S108 - a path inside the container
PROFILER_LOG: KnownFile = "/tmp/profiler.log"  # noqa: S108 - the runbook's profiler log, inside a container
KnownDiskPath = Literal["/data"]
KnownEnvName = Literal["SERVICE_NAME", "PROFILE_INTERVAL", "PYROSCOPE_ENABLED", "PYROSCOPE_URL"]
KnownProcess = Literal["py-spy", "pyroscope"]
KnownProbeURL = Literal["http://pyroscope:4040/ready"]
KnownPackage = Literal["pyroscope-io"]
KnownTool = Literal["py-spy"]
# A log filter is matched as plain text, case-insensitively (the runbook's `grep -i`).
LogFilter = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[\w .:,/=-]+$")]
# Pyroscope's duration syntax: [0-9]+(ns|us|µs|ms|s|m|h|d|w|y)
Duration = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,4}(h|d|w)$")]
ImageTag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]


class TextOutput(OpResult):
    """Text that left the runner: bounded and redacted, and saying so."""

    lines: list[str]
    omitted_lines: int = 0  # lines cut to stay within the bound (the oldest, for logs)
    omitted_bytes: int = 0
    redactions: int = 0  # secrets replaced by [redacted]


# ---------------------------------------------------------------------------- read: containers


class ContainerSummary(OpResult):
    name: str
    id: str
    service: str | None  # label pyroscope.service
    compose_service: str | None  # label com.docker.compose.service
    status: str
    health: str | None


class ContainerList(OpResult):
    containers: list[ContainerSummary]


@CATALOG.register("containers.profiled", OpKind.READ, ContainerList)
class ListProfiledContainers(Operation):
    """Containers labelled pyroscope.profile=true, with state and health."""


class LogsResult(OpResult):
    container: str
    output: TextOutput
    matched: int | None  # lines that matched the filter, before the bound; None without a filter


@CATALOG.register("container.logs", OpKind.READ, LogsResult)
class ContainerLogs(Operation):
    container: ResourceName
    tail: Annotated[int, Field(ge=1, le=2000)] = 100
    contains: LogFilter | None = None


class FileResult(OpResult):
    container: str
    path: str
    exists: bool
    output: TextOutput


@CATALOG.register("container.read_file", OpKind.READ, FileResult)
class ReadContainerFile(Operation):
    container: ResourceName
    path: KnownFile


class EnvResult(OpResult):
    container: str
    values: dict[str, str | None]  # None: not set


@CATALOG.register("container.env", OpKind.READ, EnvResult)
class ContainerEnv(Operation):
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


@CATALOG.register("container.processes", OpKind.READ, ProcessList)
class ContainerProcesses(Operation):
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


@CATALOG.register("container.disk_usage", OpKind.READ, DiskUsage)
class ContainerDiskUsage(Operation):
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


@CATALOG.register("volume.inspect", OpKind.READ, VolumeInfo)
class VolumeInspect(Operation):
    volume: ResourceName


class StatsResult(OpResult):
    container: str
    cpu_percent: float  # over the sampling interval; 100 = one full core
    online_cpus: int
    memory_bytes: int
    memory_limit_bytes: int
    memory_percent: float
    interval_seconds: float


@CATALOG.register("container.stats", OpKind.READ, StatsResult)
class ContainerStats(Operation):
    """Current CPU (two samples, not podman's lifetime average) and memory."""

    container: ResourceName
    interval: Annotated[float, Field(ge=0.2, le=10)] = 1.0


class HttpProbe(OpResult):
    container: str
    url: str
    status_code: int | None
    body: str
    client: str | None  # which client inside the container made the request
    error: str | None = None


@CATALOG.register("container.http_get", OpKind.READ, HttpProbe)
class ContainerHttpGet(Operation):
    """An HTTP GET made from inside a container (the runbook's `podman exec backend curl ...`)."""

    container: ResourceName
    url: KnownProbeURL = "http://pyroscope:4040/ready"


class PackageVersion(OpResult):
    container: str
    package: str
    installed: bool
    version: str | None
    how: str  # the command that answered


@CATALOG.register("container.package_version", OpKind.READ, PackageVersion)
class ContainerPackageVersion(Operation):
    """A Python package's version inside a container (the runbook's `pip show pyroscope-io`)."""

    container: ResourceName
    package: KnownPackage = "pyroscope-io"


class ToolVersion(OpResult):
    container: str
    tool: str
    installed: bool
    version: str | None


@CATALOG.register("container.tool_version", OpKind.READ, ToolVersion)
class ContainerToolVersion(Operation):
    """Whether a tool is installed in a container, and its version (`py-spy --version`)."""

    container: ResourceName
    tool: KnownTool = "py-spy"


# ---------------------------------------------------------------------------- read: Pyroscope


class PyroscopeVersion(OpResult):
    version: str | None  # "1.18.0"
    major: int | None
    raw: str


@CATALOG.register("pyroscope.version", OpKind.READ, PyroscopeVersion)
class GetPyroscopeVersion(Operation):
    """`pyroscope --version` inside the Pyroscope container."""


class ServiceFreshness(OpResult):
    service: str
    has_data: bool
    samples: int  # numTicks over the window, summed over the profile types queried


class Freshness(OpResult):
    api: Literal["v1", "v0", "unsupported"]
    minutes: int
    services: list[ServiceFreshness]
    seen_services: list[str]  # every service_name with data in the window (v1 only)
    note: str | None = None  # what was done differently from the runbook, and why


@CATALOG.register("pyroscope.freshness", OpKind.READ, Freshness)
class PyroscopeFreshness(Operation):
    """Which services sent profiles in the last ``minutes`` (the runbook's freshness check)."""

    services: Annotated[list[ResourceName], Field(max_length=50)] = []
    minutes: Annotated[int, Field(ge=1, le=1440)] = 5


class RetentionSetting(OpResult):
    key: str | None  # where the retention is set, e.g. "limits.compactor_blocks_retention_period"
    value: str | None
    valid_for_running_version: bool
    explanation: str


class PyroscopeConfig(OpResult):
    path: str
    output: TextOutput
    retention: RetentionSetting
    backups: list[str] = []  # backup file names, oldest first


@CATALOG.register("pyroscope.config", OpKind.READ, PyroscopeConfig)
class GetPyroscopeConfig(Operation):
    """The Pyroscope server config file and its retention setting, read for the running version."""


# ---------------------------------------------------------------------------- read: Grafana


class GrafanaDatasource(OpResult):
    name: str
    type: str
    url: str | None


class GrafanaDatasources(OpResult):
    grafana_url: str
    reachable: bool
    datasources: list[GrafanaDatasource]
    error: str | None = None


@CATALOG.register("grafana.datasources", OpKind.READ, GrafanaDatasources)
class ListGrafanaDatasources(Operation):
    """Grafana's datasources (the runbook's `curl .../api/datasources | jq '.[].name'`)."""


# ---------------------------------------------------------------------------- change


class ChangeResult(OpResult):
    """What a change did, step by step, and the state it left."""

    target: str
    steps: list[str]
    container_id: str | None = None  # the target's id afterwards (a recreate changes it)
    backup_path: str | None = None


@CATALOG.register("container.restart", OpKind.CHANGE, ChangeResult)
class RestartContainer(Operation):
    container: ResourceName
    stop_timeout: Annotated[int, Field(ge=1, le=300)] = 10


@CATALOG.register("container.stop", OpKind.CHANGE, ChangeResult)
class StopContainer(Operation):
    container: ResourceName
    stop_timeout: Annotated[int, Field(ge=1, le=300)] = 10


@CATALOG.register("container.start", OpKind.CHANGE, ChangeResult)
class StartContainer(Operation):
    container: ResourceName


@CATALOG.register("compose.recreate", OpKind.CHANGE, ChangeResult)
class RecreateService(Operation):
    """`podman-compose up -d --force-recreate SERVICE`: keeps compose labels, volumes and network."""

    service: ResourceName


@CATALOG.register("service.set_profiling", OpKind.CHANGE, ChangeResult)
class SetServiceProfiling(Operation):
    """Set a service's PROFILE_INTERVAL and/or PYROSCOPE_ENABLED in profbot's compose override, and
    recreate the service with it."""

    service: ResourceName
    profile_interval: Annotated[int, Field(ge=5, le=3600)] | None = None
    pyroscope_enabled: bool | None = None


@CATALOG.register("profiling.set_global", OpKind.CHANGE, ChangeResult)
class SetGlobalProfiling(Operation):
    """PYROSCOPE_ENABLED in the project's .env, then `up -d` so every service picks it up."""

    enabled: bool


@CATALOG.register("pyroscope.set_retention", OpKind.CHANGE, ChangeResult)
class SetPyroscopeRetention(Operation):
    """Change retention in the Pyroscope config (backed up first), in the running version's form."""

    period: Duration


class ImagePin(OpResult):
    service: str
    compose_image: str  # what the operators' compose file pins
    override_image: str | None  # what profbot's override pins on top, if anything
    running_image: str | None  # what the container runs now


@CATALOG.register("compose.image", OpKind.READ, ImagePin)
class GetServiceImage(Operation):
    """The image a compose service is pinned to, in the compose file and in profbot's override."""

    service: ResourceName


@CATALOG.register("compose.set_image_tag", OpKind.CHANGE, ChangeResult)
class SetServiceImageTag(Operation):
    """Pin a service to another tag of its image in profbot's override (MAINT-PROF-001 step 4);
    the operators' compose file stays as it is. Takes effect at the next recreate."""

    service: ResourceName
    tag: ImageTag


@CATALOG.register("compose.clear_image", OpKind.CHANGE, ChangeResult)
class ClearServiceImage(Operation):
    """Drop profbot's image pin for a service: back to the compose file's version (the rollback)."""

    service: ResourceName


@CATALOG.register("pyroscope.backup_config", OpKind.CHANGE, ChangeResult)
class BackupPyroscopeConfig(Operation):
    pass


@CATALOG.register("pyroscope.restore_config", OpKind.CHANGE, ChangeResult)
class RestorePyroscopeConfig(Operation):
    """Put the last backup (``.bak``) back in place."""


@CATALOG.register("image.pull", OpKind.CHANGE, ChangeResult)
class PullPyroscopeImage(Operation):
    """Pull grafana/pyroscope:TAG and check that an image really arrived."""

    tag: ImageTag


@CATALOG.register("grafana.provision_pyroscope", OpKind.CHANGE, ChangeResult)
class ProvisionPyroscopeDatasource(Operation):
    """Write the runbook's `pyroscope.yml` datasource provisioning file and restart Grafana."""


# ---------------------------------------------------------------------------- destroy


@CATALOG.register("pyroscope.purge_data", OpKind.DESTROY, ChangeResult)
class PurgePyroscopeData(Operation):
    """The runbook's urgent storage path: stop Pyroscope, remove its data volume, start it again.
    Deletes all profiling history."""
