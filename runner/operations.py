"""Implementations of the operations declared in :mod:`profbot.ops`, one function each.

``IMPLEMENTATIONS.check_complete()`` runs at import time: a runner that lacks an implementation
for any declared operation does not start. Every text an operation returns goes through
:mod:`runner.redaction`; every change names what it did, step by step.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from profbot.approvals import TargetIdentity
from profbot.errors import InvalidArgument, NotAllowed, OperationError, TargetChanged, TargetNotFound
from profbot.ops import (
    CATALOG,
    BackupPyroscopeConfig,
    ChangeResult,
    ClearServiceImage,
    ContainerDiskUsage,
    ContainerEnv,
    ContainerHttpGet,
    ContainerInspect,
    ContainerList,
    ContainerLogs,
    ContainerPackageVersion,
    ContainerProcesses,
    ContainerState,
    ContainerStats,
    ContainerSummary,
    ContainerToolVersion,
    DiskUsage,
    EnvResult,
    FileResult,
    Freshness,
    GetPyroscopeConfig,
    GetPyroscopeVersion,
    GetServiceImage,
    GrafanaDatasources,
    HttpProbe,
    ImagePin,
    ListGrafanaDatasources,
    ListProfiledContainers,
    LogsResult,
    Operation,
    OperationCatalog,
    OpResult,
    PackageVersion,
    ProcessInfo,
    ProcessList,
    ProvisionPyroscopeDatasource,
    PullPyroscopeImage,
    PurgePyroscopeData,
    PyroscopeConfig,
    PyroscopeFreshness,
    PyroscopeReady,
    PyroscopeVersion,
    ReadContainerFile,
    ReadyResult,
    RecreateService,
    RestartContainer,
    RestorePyroscopeConfig,
    SetGlobalProfiling,
    SetPyroscopeRetention,
    SetServiceImageTag,
    SetServiceProfiling,
    StartContainer,
    StatsResult,
    StopContainer,
    ToolVersion,
    VolumeInfo,
    VolumeInspect,
)
from runner import pyroscope_config
from runner.compose import ComposeProject, atomic_write, set_env_file_var
from runner.grafana import GrafanaClient
from runner.podman_gateway import PodmanGateway, container_state_from_attrs, parse_podman_time
from runner.pyroscope import PyroscopeClient
from runner.redaction import bounded_text, redact, redact_env_value

PROFILED_LABEL = "pyroscope.profile=true"


@dataclass(frozen=True)
class HostPolicy:
    """What this runner manages: names from its configuration, never from a request."""

    pyroscope_container: str = "pyroscope"
    pyroscope_volume: str = "pyroscope_data"
    pyroscope_image: str = "docker.io/grafana/pyroscope"
    pyroscope_config: Path | None = None
    grafana_container: str = "grafana"
    grafana_provisioning_dir: Path | None = None
    managed: frozenset[str] = field(default_factory=lambda: frozenset({"pyroscope", "backend", "grafana"}))


@dataclass(frozen=True)
class HostContext:
    """What an operation may use on this host."""

    podman: PodmanGateway
    pyroscope: PyroscopeClient
    policy: HostPolicy = field(default_factory=HostPolicy)
    compose: ComposeProject | None = None
    grafana: GrafanaClient | None = None

    def require_compose(self) -> ComposeProject:
        if self.compose is None:
            raise InvalidArgument("this runner has no compose project configured (PROFBOT_COMPOSE_FILE)")
        return self.compose

    def require_config(self) -> Path:
        path = self.policy.pyroscope_config
        if path is None:
            raise InvalidArgument("this runner has no Pyroscope config file configured (PROFBOT_PYROSCOPE_CONFIG)")
        if not path.exists():
            raise TargetNotFound(f"Pyroscope config {path} does not exist")
        return path

    async def require_changeable(self, container: str) -> dict[str, Any]:
        """The container's inspect document, if a change may touch it; NotAllowed otherwise."""
        attrs: dict[str, Any] = (await self.podman.container(container)).attrs
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        if container in self.policy.managed or labels.get("pyroscope.profile") == "true":
            return attrs
        raise NotAllowed(
            f"{container} is not managed by profbot on this host (managed: the profiled containers and "
            f"{', '.join(sorted(self.policy.managed))}); nothing was read or changed"
        )

    async def require_readable(self, container: str) -> None:
        """Reads that expose content (logs, env, files, processes, exec) stay on the containers
        profbot manages: a database's logs have no business in a Slack channel."""
        await self.require_changeable(container)

    def require_changeable_service(self, service: str) -> ComposeProject:
        compose = self.require_compose()
        compose.require_service(service)
        if service in self.policy.managed or service in compose.profiled_services():
            return compose
        raise NotAllowed(f"compose service {service} is not managed by profbot on this host")


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
op = IMPLEMENTATIONS.implements


# ============================================================================ read: containers


@op(PyroscopeReady)
async def pyroscope_ready(host: HostContext, _: PyroscopeReady) -> ReadyResult:
    return await host.pyroscope.ready()


@op(ContainerInspect)
async def container_inspect(host: HostContext, o: ContainerInspect) -> ContainerState:
    return await host.podman.inspect(o.container, run_healthcheck=o.run_healthcheck)


@op(ListProfiledContainers)
async def list_profiled(host: HostContext, _: ListProfiledContainers) -> ContainerList:
    docs = await host.podman.list_containers(f"label={PROFILED_LABEL}")
    summaries = []
    for attrs in docs:
        state = container_state_from_attrs(attrs)
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        summaries.append(
            ContainerSummary(
                name=state.name,
                id=state.id,
                service=labels.get("pyroscope.service"),
                compose_service=labels.get("com.docker.compose.service"),
                status=state.status,
                health=state.health,
            )
        )
    return ContainerList(containers=sorted(summaries, key=lambda c: c.name))


@op(ContainerLogs)
async def container_logs(host: HostContext, o: ContainerLogs) -> LogsResult:
    await host.require_readable(o.container)
    # Redact before filtering: a filter on raw text would answer "does the secret start with x?"
    text, redactions = redact(await host.podman.logs(o.container, o.tail))
    matched = None
    if o.contains is not None:
        needle = o.contains.lower()
        lines = [line for line in text.splitlines() if needle in line.lower()]
        matched = len(lines)
        text = "\n".join(lines)
    output = bounded_text(text)
    output = output.model_copy(update={"redactions": output.redactions + redactions})
    return LogsResult(container=o.container, output=output, matched=matched)


MAX_FILE_READ = 256 * 1024  # bytes read from the end of a file; bounded_text cuts further


@op(ReadContainerFile)
async def read_file(host: HostContext, o: ReadContainerFile) -> FileResult:
    await host.require_readable(o.container)
    # tail -c: a runaway multi-GB profiler log must not be loaded whole into the runner
    code, out, err = await host.podman.exec(o.container, ["tail", "-c", str(MAX_FILE_READ), o.path])
    if code != 0:
        if "No such file" in err or "can't open" in err:
            return FileResult(container=o.container, path=o.path, exists=False, output=bounded_text(""))
        raise OperationError(f"reading {o.path} in {o.container} failed (exit {code}): {redact(err.strip())[0][:300]}")
    return FileResult(container=o.container, path=o.path, exists=True, output=bounded_text(out, keep="last"))


@op(ContainerEnv)
async def container_env(host: HostContext, o: ContainerEnv) -> EnvResult:
    attrs = await host.require_changeable(o.container)
    env: dict[str, str] = {}
    for item in (attrs.get("Config") or {}).get("Env") or []:
        name, _, value = str(item).partition("=")
        env[name] = value
    values = {name: redact_env_value(name, env[name]) if name in env else None for name in o.names}
    return EnvResult(container=o.container, values=values)


_CPU = re.compile(r"^\d+(\.\d+)?$")


@op(ContainerProcesses)
async def container_processes(host: HostContext, o: ContainerProcesses) -> ProcessList:
    await host.require_readable(o.container)
    # podman's own `top` reads /proc from the host side: no ps needed inside the container.
    table = await host.podman.top(o.container, "pid,user,pcpu,etime,args")
    titles = [t.upper() for t in table.get("Titles") or []]
    processes = []
    for row in table.get("Processes") or []:
        fields = dict(zip(titles, row, strict=False))
        command = str(fields.get("COMMAND", ""))
        if not any(o.match in program for program in program_names(command)):
            continue
        cpu = str(fields.get("%CPU", "0"))
        processes.append(
            ProcessInfo(
                pid=int(fields.get("PID", 0)),
                user=str(fields.get("USER", "")),
                cpu_percent=float(cpu) if _CPU.match(cpu) else 0.0,
                elapsed=str(fields.get("ELAPSED", "")),
                command=redact(command)[0][:500],
            )
        )
    return ProcessList(container=o.container, match=o.match, processes=processes)


_INTERPRETERS = re.compile(r"^(sh|bash|dash|ash|busybox|env|perl|python(\d+(\.\d+)?)?)$")


def program_names(command: str) -> list[str]:
    """The programs a command line runs: what `pgrep` matches (the process name), seen through an
    interpreter so that `/bin/sh /scripts/pyroscope-profiler.sh svc` counts as `pyroscope-profiler.sh`.

    Matching any word of the command line instead would count the runner's own probes: while a
    diagnosis asks `python3 -c ... pyroscope-io` for the SDK version, that exec would be taken for a
    running pyroscope profiler."""
    words = command.split()
    if not words:
        return []
    names = [os.path.basename(words[0])]
    if _INTERPRETERS.match(names[0]):
        for word in words[1:]:
            if word in ("-c", "-e", "-m"):
                break  # inline code or a module: no script file of its own
            if not word.startswith("-") and "=" not in word:
                names.append(os.path.basename(word))
                break
    return names


@op(ContainerDiskUsage)
async def container_disk_usage(host: HostContext, o: ContainerDiskUsage) -> DiskUsage:
    # POSIX output (-P) in 1024-byte blocks (-k): one line per filesystem, same columns everywhere.
    code, out, err = await host.podman.exec(o.container, ["df", "-P", "-k", o.path])
    if code != 0:
        raise OperationError(f"df {o.path} in {o.container} failed (exit {code}): {err.strip()[:300]}")
    return parse_df(o.container, o.path, out)


def parse_df(container: str, path: str, output: str) -> DiskUsage:
    lines = [line for line in output.splitlines() if line.strip()]
    if len(lines) < 2:
        raise OperationError(f"unexpected df output: {output[:200]!r}")
    parts = lines[-1].split()
    if len(parts) < 6 or not all(p.isdigit() for p in parts[1:4]):
        raise OperationError(f"unexpected df output: {lines[-1][:200]!r}")
    size, used, available = (int(p) * 1024 for p in parts[1:4])
    # df's own Capacity rounds up; recompute from the figures, as used / (used + available).
    use_percent = round(100.0 * used / (used + available), 1) if used + available else 0.0
    return DiskUsage(
        container=container,
        path=path,
        filesystem=parts[0],
        size_bytes=size,
        used_bytes=used,
        available_bytes=available,
        use_percent=use_percent,
    )


MAX_VOLUME_WALK_FILES = 200_000


def tree_size(root: str) -> int | None:
    if not os.path.isdir(root):
        return None  # not on this host's filesystem (a remote podman): df answers instead
    total = 0
    seen = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            seen += 1
            if seen > MAX_VOLUME_WALK_FILES:
                return None  # too large to walk within a job; df answers for the filesystem
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue
    return total


@op(VolumeInspect)
async def volume_inspect(host: HostContext, o: VolumeInspect) -> VolumeInfo:
    attrs = await host.podman.volume(o.volume)
    mountpoint = str(attrs.get("Mountpoint", ""))
    size = await asyncio.to_thread(tree_size, mountpoint) if mountpoint else None
    users = await host.podman.list_containers(f"volume={o.volume}")
    return VolumeInfo(
        name=str(attrs.get("Name", o.volume)),
        driver=str(attrs.get("Driver", "")),
        mountpoint=mountpoint,
        created_at=parse_podman_time(attrs.get("CreatedAt")),
        labels={str(k): str(v) for k, v in (attrs.get("Labels") or {}).items()},
        size_bytes=size,
        used_by=sorted(container_state_from_attrs(a).name for a in users),
    )


@op(ContainerStats)
async def container_stats(host: HostContext, o: ContainerStats) -> StatsResult:
    # podman's CPU figure is the container's lifetime average; two samples give the current rate.
    first = await host.podman.stats_sample(o.container)
    await asyncio.sleep(o.interval)
    second = await host.podman.stats_sample(o.container)
    cpu_ns = int(second.get("CPUNano", 0)) - int(first.get("CPUNano", 0))
    wall_ns = int(second.get("SystemNano", 0)) - int(first.get("SystemNano", 0))
    cpu_percent = round(100.0 * cpu_ns / wall_ns, 2) if wall_ns > 0 else 0.0
    memory = int(second.get("MemUsage", 0))
    limit = int(second.get("MemLimit", 0))
    return StatsResult(
        container=o.container,
        cpu_percent=max(cpu_percent, 0.0),
        online_cpus=len(second.get("PerCPU") or []) or (os.cpu_count() or 1),
        memory_bytes=memory,
        memory_limit_bytes=limit,
        memory_percent=round(100.0 * memory / limit, 2) if limit else 0.0,
        interval_seconds=wall_ns / 1e9 if wall_ns > 0 else o.interval,
    )


_PY_GET = (
    "import signal, sys, urllib.request, urllib.error\n"
    # urlopen's timeout does not cover name resolution: bound the whole probe.
    "signal.alarm(6)\n"
    "try:\n"
    "    r = urllib.request.urlopen(sys.argv[1], timeout=5); print(r.status); print(r.read(500).decode())\n"
    "except urllib.error.HTTPError as e:\n"
    "    print(e.code); print(e.read(500).decode())\n"
    "except Exception as e:\n"
    "    print(getattr(e, 'reason', None) or e, file=sys.stderr); sys.exit(1)\n"
)


@op(ContainerHttpGet)
async def container_http_get(host: HostContext, o: ContainerHttpGet) -> HttpProbe:
    """Try the clients a container is likely to have: Python (the profiled services are Python
    services), then curl. busybox wget segfaults on these machines (podman-on-these-machines.md),
    so it is not tried."""
    attempts: list[tuple[str, list[str]]] = [
        ("python3", ["python3", "-c", _PY_GET, o.url]),
        ("curl", ["curl", "-sS", "-m", "5", "-w", "\n%{http_code}", o.url]),
    ]
    await host.require_readable(o.container)
    errors = []
    for client, argv in attempts:
        code, out, err = await host.podman.exec(o.container, argv)
        if code in (126, 127):  # no such client in this container
            errors.append(f"{client}: not installed")
            continue
        if client == "curl":
            body, _, status = out.rpartition("\n")
        else:
            status, _, body = out.partition("\n")
        if code != 0 or not status.strip().isdigit() or status.strip() == "000":
            reason = redact(err.strip() or out.strip())[0][:300] or f"exit {code}"
            return HttpProbe(container=o.container, url=o.url, status_code=None, body="", client=client, error=reason)
        return HttpProbe(
            container=o.container,
            url=o.url,
            status_code=int(status.strip()),
            body=redact(body.strip())[0][:500],
            client=client,
        )
    return HttpProbe(
        container=o.container,
        url=o.url,
        status_code=None,
        body="",
        client=None,
        error="no HTTP client in the container (" + "; ".join(errors) + ")",
    )


_VERSION_LINE = re.compile(r"^Version:\s*(\S+)", re.MULTILINE)
_PY_VERSION = (
    "import sys, importlib.metadata as m\n"
    "try: print(m.version(sys.argv[1]))\n"
    "except m.PackageNotFoundError: sys.exit(3)\n"
)


@op(ContainerPackageVersion)
async def container_package_version(host: HostContext, o: ContainerPackageVersion) -> PackageVersion:
    """What `pip show` answers, asked the cheapest way that works: Python's own package metadata
    (one exec, and no pip needed in the image), then `pip show` for images without python3."""
    await host.require_readable(o.container)
    code, out, _ = await host.podman.exec(o.container, ["python3", "-c", _PY_VERSION, o.package])
    if code in (0, 3):
        return PackageVersion(
            container=o.container,
            package=o.package,
            installed=code == 0,
            version=(out.strip() or None) if code == 0 else None,
            how="python3 importlib.metadata (what pip show reads)",
        )
    code, out, _ = await host.podman.exec(o.container, ["pip", "show", o.package])
    if code in (126, 127):
        raise OperationError(f"no pip or python3 in {o.container} to ask for {o.package}")
    match = _VERSION_LINE.search(out)
    return PackageVersion(
        container=o.container,
        package=o.package,
        installed=code == 0 and match is not None,
        version=match.group(1) if match else None,
        how=f"pip show {o.package}",
    )


@op(ContainerToolVersion)
async def container_tool_version(host: HostContext, o: ContainerToolVersion) -> ToolVersion:
    await host.require_readable(o.container)
    code, out, err = await host.podman.exec(o.container, [o.tool, "--version"])
    if code in (126, 127):
        return ToolVersion(container=o.container, tool=o.tool, installed=False, version=None)
    text = (out or err).strip().splitlines()
    return ToolVersion(container=o.container, tool=o.tool, installed=True, version=text[0][:100] if text else None)


# ============================================================================ read: Pyroscope

_PYROSCOPE_VERSION = re.compile(r"version\s+v?(\d+)\.(\d+)\.(\d+)")


async def running_major(host: HostContext) -> int | None:
    return (await pyroscope_version(host, GetPyroscopeVersion())).major


@op(GetPyroscopeVersion)
async def pyroscope_version(host: HostContext, _: GetPyroscopeVersion) -> PyroscopeVersion:
    code, out, err = await host.podman.exec(host.policy.pyroscope_container, ["pyroscope", "--version"])
    raw = (out or err).strip().splitlines()[0] if (out or err).strip() else ""
    match = _PYROSCOPE_VERSION.search(raw)
    if code != 0 and match is None:
        raise OperationError(f"`pyroscope --version` failed in {host.policy.pyroscope_container}: {raw[:200]}")
    if match is None:
        return PyroscopeVersion(version=None, major=None, raw=raw[:200])
    return PyroscopeVersion(version=".".join(match.groups()), major=int(match.group(1)), raw=raw[:200])


@op(PyroscopeFreshness)
async def pyroscope_freshness(host: HostContext, o: PyroscopeFreshness) -> Freshness:
    return await host.pyroscope.freshness(list(o.services), o.minutes)


@op(GetPyroscopeConfig)
async def get_pyroscope_config(host: HostContext, _: GetPyroscopeConfig) -> PyroscopeConfig:
    path = host.require_config()
    text = path.read_text()
    major = await running_major(host)
    try:
        retention = pyroscope_config.read_retention(text, major)
    except Exception as exc:  # a config that does not parse is a finding, not a crash
        raise OperationError(f"{path} is not valid YAML: {exc}") from exc
    backups = sorted(b.name for b in path.parent.glob(f"{path.name}.*.bak"))
    return PyroscopeConfig(
        path=str(path), output=bounded_text(text, keep="first"), retention=retention, backups=backups
    )


# ============================================================================ image pins (MAINT-PROF-001)


def _repository(image: str) -> str:
    """`grafana/pyroscope:1.18.0` -> `grafana/pyroscope` (a registry port's colon is kept)."""
    head, sep, tail = image.rpartition(":")
    return head if sep and "/" not in tail else image


@op(GetServiceImage)
async def get_service_image(host: HostContext, o: GetServiceImage) -> ImagePin:
    compose = host.require_compose()
    main, override = compose.image_of(o.service)
    running = None
    with contextlib.suppress(TargetNotFound):  # not created yet: no running image to report
        running = (await host.podman.inspect(compose.container_name(o.service))).image or None
    return ImagePin(service=o.service, compose_image=main, override_image=override, running_image=running)


@op(SetServiceImageTag)
async def set_service_image_tag(host: HostContext, o: SetServiceImageTag) -> ChangeResult:
    compose = host.require_changeable_service(o.service)
    main, override = compose.image_of(o.service)
    image = f"{_repository(override or main)}:{o.tag}"
    step = compose.set_image(o.service, image)
    return ChangeResult(target=o.service, steps=[f"{step} (was {override or main})"])


@op(ClearServiceImage)
async def clear_service_image(host: HostContext, o: ClearServiceImage) -> ChangeResult:
    compose = host.require_changeable_service(o.service)
    main, override = compose.image_of(o.service)
    if override is None:
        raise InvalidArgument(f"{o.service} has no image pin from profbot: nothing to roll back ({main} is in place)")
    return ChangeResult(target=o.service, steps=[compose.set_image(o.service, None) + f" ({main}, was {override})"])


# ============================================================================ Grafana (MAINT-PROF-003)

# The runbook's provisioning file, as it writes it.
PYROSCOPE_DATASOURCE_YAML = """\
apiVersion: 1
datasources:
  - name: Pyroscope
    type: pyroscope
    url: http://pyroscope:4040
    access: proxy
    isDefault: false
"""


@op(ListGrafanaDatasources)
async def grafana_datasources(host: HostContext, _: ListGrafanaDatasources) -> GrafanaDatasources:
    if host.grafana is None:
        raise InvalidArgument("this runner has no Grafana configured (GRAFANA_URL and GRAFANA_TOKEN)")
    return await host.grafana.datasources()


@op(ProvisionPyroscopeDatasource)
async def provision_pyroscope_datasource(host: HostContext, _: ProvisionPyroscopeDatasource) -> ChangeResult:
    directory = host.policy.grafana_provisioning_dir
    if directory is None or not directory.is_dir():
        raise InvalidArgument("no Grafana provisioning directory configured (PROFBOT_GRAFANA_PROVISIONING_DIR)")
    container = host.policy.grafana_container
    await host.require_changeable(container)
    target = directory / "pyroscope.yml"
    steps = []
    if target.exists():
        backup = target.with_name(f"pyroscope.yml.{datetime.now(UTC):%Y%m%dT%H%M%S}.bak")
        shutil.copy2(target, backup)
        steps.append(f"backed up the existing {target.name} to {backup.name}")
    atomic_write(target, PYROSCOPE_DATASOURCE_YAML)
    steps.append(f"wrote {target}")
    await host.podman.restart(container, 30)
    steps.append(f"restarted {container} (stop timeout 30s)")
    return ChangeResult(target=str(target), steps=steps, container_id=await _container_id(host, container))


# ============================================================================ change


async def _container_id(host: HostContext, name: str) -> str | None:
    try:
        return str((await host.podman.container(name)).id)
    except TargetNotFound:
        return None


async def verify_identity(host: HostContext, identity: TargetIdentity) -> None:
    """Raise TargetChanged unless the target is still what the approval was given for: a
    container recreated, or a volume removed and made again, is not what anyone approved."""
    if identity.kind == "container":
        now = await _container_id(host, identity.name)
        if now != identity.id:
            seen = f"is now {now[:12]}" if now else "no longer exists"
            raise TargetChanged(
                f"{identity.name} was container {(identity.id or '?')[:12]} when this was approved and {seen}: "
                "it was replaced since; nothing ran. Diagnose again and request the change anew."
            )
        return
    try:
        created = parse_podman_time((await host.podman.volume(identity.name)).get("CreatedAt"))
    except TargetNotFound:
        created = None
    approved = datetime.fromisoformat(identity.created_at) if identity.created_at else None
    if created is None or approved is None or created != approved:
        seen = f"was created {created.isoformat()}" if created else "no longer exists"
        raise TargetChanged(
            f"volume {identity.name} was created {identity.created_at} when this was approved and now {seen}: "
            "it was replaced since; nothing ran. Request the change anew."
        )


@op(RestartContainer)
async def restart_container(host: HostContext, o: RestartContainer) -> ChangeResult:
    await host.require_changeable(o.container)
    await host.podman.restart(o.container, o.stop_timeout)
    return ChangeResult(
        target=o.container,
        steps=[f"restarted {o.container} (stop timeout {o.stop_timeout}s)"],
        container_id=await _container_id(host, o.container),
    )


@op(StopContainer)
async def stop_container(host: HostContext, o: StopContainer) -> ChangeResult:
    await host.require_changeable(o.container)
    await host.podman.stop(o.container, o.stop_timeout)
    return ChangeResult(target=o.container, steps=[f"stopped {o.container} (stop timeout {o.stop_timeout}s)"])


@op(StartContainer)
async def start_container(host: HostContext, o: StartContainer) -> ChangeResult:
    await host.require_changeable(o.container)
    await host.podman.start(o.container)
    return ChangeResult(
        target=o.container, steps=[f"started {o.container}"], container_id=await _container_id(host, o.container)
    )


@op(RecreateService)
async def recreate_service(host: HostContext, o: RecreateService) -> ChangeResult:
    compose = host.require_changeable_service(o.service)
    await compose.up(o.service, force_recreate=True)
    container = compose.container_name(o.service)
    return ChangeResult(
        target=o.service,
        steps=[f"podman-compose up -d --force-recreate {o.service}"],
        container_id=await _container_id(host, container),
    )


@op(SetServiceProfiling)
async def set_service_profiling(host: HostContext, o: SetServiceProfiling) -> ChangeResult:
    updates = {}
    if o.profile_interval is not None:
        updates["PROFILE_INTERVAL"] = str(o.profile_interval)
    if o.pyroscope_enabled is not None:
        updates["PYROSCOPE_ENABLED"] = "true" if o.pyroscope_enabled else "false"
    if not updates:
        raise InvalidArgument("nothing to set: give profile_interval and/or pyroscope_enabled")
    compose = host.require_changeable_service(o.service)
    step = compose.set_service_env(o.service, updates)
    await compose.up(o.service, force_recreate=True)
    return ChangeResult(
        target=o.service,
        steps=[step, f"podman-compose up -d --force-recreate {o.service}"],
        container_id=await _container_id(host, compose.container_name(o.service)),
    )


@op(SetGlobalProfiling)
async def set_global_profiling(host: HostContext, o: SetGlobalProfiling) -> ChangeResult:
    compose = host.require_compose()
    value = "true" if o.enabled else "false"
    steps = [set_env_file_var(compose.env_file, "PYROSCOPE_ENABLED", value)]
    managed = host.policy.managed | compose.profiled_services()
    services = [name for name in compose.services_using("PYROSCOPE_ENABLED") if name in managed]
    if services:
        # A .env change reaches a container only when it is created again.
        await compose.up(*services, force_recreate=True)
        steps.append(f"podman-compose up -d --force-recreate {' '.join(services)}")
    else:
        steps.append("no service interpolates ${PYROSCOPE_ENABLED}: nothing to recreate")
    return ChangeResult(target=str(compose.env_file), steps=steps)


def _backup(config: Path) -> Path:
    """A new, timestamped backup each time: a second change must not overwrite the original."""
    backup = pyroscope_config.new_backup_path(config)
    shutil.copy2(config, backup)
    return backup


async def _apply_config(host: HostContext) -> str:
    """Make Pyroscope load its config again: recreate it through compose, else restart it."""
    container = host.policy.pyroscope_container
    if host.compose is not None and container in host.compose.services():
        await host.compose.up(host.compose.service_for_container(container), force_recreate=True)
        return f"podman-compose up -d --force-recreate {container}"
    await host.require_changeable(container)
    await host.podman.restart(container, 10)
    return f"restarted {container}"


@op(SetPyroscopeRetention)
async def set_pyroscope_retention(host: HostContext, o: SetPyroscopeRetention) -> ChangeResult:
    path = host.require_config()
    major = await running_major(host)
    new_text, what = pyroscope_config.set_retention(path.read_text(), o.period, major)  # refuses with reason
    backup = _backup(path)
    atomic_write(path, new_text)
    steps = [f"backed up {path.name} to {backup.name}", f"{what} in {path.name}"]
    steps.append(await _apply_config(host))
    container = host.policy.pyroscope_container
    return ChangeResult(
        target=str(path), steps=steps, backup_path=str(backup), container_id=await _container_id(host, container)
    )


@op(BackupPyroscopeConfig)
async def backup_pyroscope_config(host: HostContext, _: BackupPyroscopeConfig) -> ChangeResult:
    path = host.require_config()
    backup = _backup(path)
    return ChangeResult(target=str(path), steps=[f"copied {path.name} to {backup.name}"], backup_path=str(backup))


@op(RestorePyroscopeConfig)
async def restore_pyroscope_config(host: HostContext, _: RestorePyroscopeConfig) -> ChangeResult:
    path = host.require_config()
    backup = pyroscope_config.latest_backup(path)
    if backup is None:
        raise TargetNotFound(f"no backup of {path.name} to restore")
    atomic_write(path, backup.read_text())
    steps = [f"restored {path.name} from {backup.name}", await _apply_config(host)]
    return ChangeResult(target=str(path), steps=steps, backup_path=str(backup))


@op(PullPyroscopeImage)
async def pull_image(host: HostContext, o: PullPyroscopeImage) -> ChangeResult:
    image_id = await host.podman.pull(host.policy.pyroscope_image, o.tag)
    return ChangeResult(
        target=f"{host.policy.pyroscope_image}:{o.tag}",
        steps=[f"pulled {host.policy.pyroscope_image}:{o.tag} (image {image_id[:19]})"],
    )


# ============================================================================ destroy


@op(PurgePyroscopeData)
async def purge_pyroscope_data(host: HostContext, _: PurgePyroscopeData) -> ChangeResult:
    container, volume = host.policy.pyroscope_container, host.policy.pyroscope_volume
    # Every precondition first: once the volume is gone there is no undo.
    await host.require_changeable(container)
    compose = host.require_compose()
    service = compose.service_for_container(container)
    await host.podman.volume(volume)
    users = sorted(container_state_from_attrs(a).name for a in await host.podman.list_containers(f"volume={volume}"))
    others = [name for name in users if name != container]
    if others:
        raise NotAllowed(f"{volume} is also used by {', '.join(others)}: not purging data other containers use")
    steps = []
    started = time.monotonic()
    await host.podman.stop(container, 30)
    steps.append(f"stopped {container}")
    # The stopped container still holds the volume; removing it lets the volume go without
    # `force`, which would also remove any other container using it.
    await host.podman.remove_container(container)
    steps.append(f"removed container {container} (compose creates it again)")
    await host.podman.remove_volume(volume)
    steps.append(f"removed volume {volume}: all profiling history deleted")
    await compose.up(service)
    steps.append(f"podman-compose up -d {service} (new empty {volume})")
    steps.append(f"done in {time.monotonic() - started:.1f}s")
    return ChangeResult(target=volume, steps=steps, container_id=await _container_id(host, container))


IMPLEMENTATIONS.check_complete()
