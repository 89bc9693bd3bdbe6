"""What is read inside a managed container: its logs, a known file, named env variables, its
processes (podman top, from the host), an HTTP probe from inside it, a package's or a tool's
version. Every text leaves redacted (runner/redaction.py)."""

from __future__ import annotations

import os
import re
from typing import Any

from profbot.errors import OperationError
from profbot.ops.containers import (
    ContainerEnv,
    ContainerHttpGet,
    ContainerLogs,
    ContainerPackageVersion,
    ContainerProcesses,
    ContainerToolVersion,
    EnvResult,
    FileResult,
    HttpProbe,
    LogsResult,
    PackageVersion,
    ProcessInfo,
    ProcessList,
    ReadContainerFile,
    ToolVersion,
)
from runner import probes
from runner.host_policy import HostContext
from runner.operations.table import op
from runner.redaction import bounded_text, redact, redact_env_value


@op(ContainerLogs)
async def container_logs(host: HostContext, o: ContainerLogs) -> LogsResult:
    attrs = await host.require_readable(o.container)
    # Redact before filtering: a filter on raw text would answer "does the secret start with x?"
    text, redactions = redact(await host.podman.logs(o.container, o.tail, attrs))
    matched = None
    if o.contains is not None:
        needle = o.contains.lower()
        lines = [line for line in text.splitlines() if needle in line.lower()]
        matched = len(lines)
        text = "\n".join(lines)
    output = bounded_text(text)
    output = output.model_copy(update={"redactions": output.redactions + redactions})
    return LogsResult(container=o.container, output=output, matched=matched)


MAX_FILE_READ = 256 * 1024  # bytes read from the end of a file: bounded_text's byte bound (redaction.py)


@op(ReadContainerFile)
async def read_file(host: HostContext, o: ReadContainerFile) -> FileResult:
    attrs = await host.require_readable(o.container)
    # tail -c: a runaway multi-GB profiler log must not be loaded whole into the runner
    code, out, err = await host.podman.exec(o.container, ["tail", "-c", str(MAX_FILE_READ), o.path], attrs)
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


@op(ContainerHttpGet)
async def container_http_get(host: HostContext, o: ContainerHttpGet) -> HttpProbe:
    return await http_get_inside(host, o.container, o.url, await host.require_readable(o.container))


async def http_get_inside(host: HostContext, container: str, url: str, attrs: dict[str, Any]) -> HttpProbe:
    """Try the clients a container is likely to have: Python (the profiled services are Python
    services), then curl. busybox wget segfaults on these machines (podman-on-these-machines.md),
    so it is not tried. ``attrs``: the container's inspect document, read by the caller's policy check."""
    attempts: list[tuple[str, list[str]]] = [
        ("python3", ["python3", "-c", probes.HTTP_GET, url]),
        ("curl", ["curl", "-sS", "-m", "5", "-w", "\n%{http_code}", url]),
    ]
    errors = []
    for client, argv in attempts:
        code, out, err = await host.podman.exec(container, argv, attrs)
        if code in (126, 127):  # no such client in this container
            errors.append(f"{client}: not installed")
            continue
        if client == "curl":
            body, _, status = out.rpartition("\n")
        else:
            status, _, body = out.partition("\n")
        if code != 0 or not status.strip().isdigit() or status.strip() == "000":
            reason = redact(err.strip() or out.strip())[0][:300] or f"exit {code}"
            return HttpProbe(container=container, url=url, status_code=None, body="", client=client, error=reason)
        return HttpProbe(
            container=container,
            url=url,
            status_code=int(status.strip()),
            body=redact(body.strip())[0][:500],
            client=client,
        )
    return HttpProbe(
        container=container,
        url=url,
        status_code=None,
        body="",
        client=None,
        error="no HTTP client in the container (" + "; ".join(errors) + ")",
    )


_VERSION_LINE = re.compile(r"^Version:\s*(\S+)", re.MULTILINE)


@op(ContainerPackageVersion)
async def container_package_version(host: HostContext, o: ContainerPackageVersion) -> PackageVersion:
    """What `pip show` answers, asked the cheapest way that works: Python's own package metadata
    (one exec, and no pip needed in the image), then `pip show` for images without python3."""
    attrs = await host.require_readable(o.container)
    code, out, _ = await host.podman.exec(o.container, ["python3", "-c", probes.PACKAGE_VERSION, o.package], attrs)
    if code in (0, 3):
        return PackageVersion(
            container=o.container,
            package=o.package,
            installed=code == 0,
            version=(out.strip() or None) if code == 0 else None,
            how="python3 importlib.metadata (what pip show reads)",
        )
    code, out, _ = await host.podman.exec(o.container, ["pip", "show", o.package], attrs)
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
    attrs = await host.require_readable(o.container)
    code, out, err = await host.podman.exec(o.container, [o.tool, "--version"], attrs)
    if code in (126, 127):
        return ToolVersion(container=o.container, tool=o.tool, installed=False, version=None)
    text = (out or err).strip().splitlines()
    return ToolVersion(container=o.container, tool=o.tool, installed=True, version=text[0][:100] if text else None)
