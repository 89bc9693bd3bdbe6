"""The Pyroscope server: /ready from the host, its version, which services sent profiles (v1
API, or v0's query on v0), push latency (a canary), its config read for the running version;
pulling its image."""

from __future__ import annotations

import re

from profbot.errors import OperationError
from profbot.ops.contract import ChangeResult
from profbot.ops.pyroscope import (
    FlameProfile,
    Freshness,
    GetPyroscopeConfig,
    GetPyroscopeVersion,
    MeasurePushLatency,
    PullPyroscopeImage,
    PushLatency,
    PushRejections,
    PyroscopeConfig,
    PyroscopeFreshness,
    PyroscopeProfile,
    PyroscopePushRejections,
    PyroscopeReady,
    PyroscopeVersion,
    ReadyResult,
)
from runner import pyroscope_config, pyroscope_rejections, safe_files
from runner.host_policy import HostContext
from runner.operations.table import op
from runner.redaction import bounded_text


@op(PyroscopeReady)
async def pyroscope_ready(host: HostContext, _: PyroscopeReady) -> ReadyResult:
    return await host.pyroscope.ready()


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


@op(MeasurePushLatency)
async def push_latency(host: HostContext, o: MeasurePushLatency) -> PushLatency:
    return await host.pyroscope.push_latency(o.within)


@op(PyroscopePushRejections)
async def push_rejections(host: HostContext, _: PyroscopePushRejections) -> PushRejections:
    return await pyroscope_rejections.push_rejections(host.pyroscope)


@op(PyroscopeProfile)
async def pyroscope_profile(host: HostContext, o: PyroscopeProfile) -> FlameProfile:
    return await host.pyroscope.profile(o.service, o.minutes)


@op(GetPyroscopeConfig)
async def get_pyroscope_config(host: HostContext, _: GetPyroscopeConfig) -> PyroscopeConfig:
    path = host.require_config()
    text = safe_files.read_text(path) or ""
    major = await running_major(host)
    try:
        retention = pyroscope_config.read_retention(text, major)
    except Exception as exc:  # a config that does not parse is a finding, not a crash
        raise OperationError(f"{path} is not valid YAML: {exc}") from exc
    backups = safe_files.backups(path)
    return PyroscopeConfig(
        path=str(path), output=bounded_text(text, keep="first"), retention=retention, backups=backups
    )


@op(PullPyroscopeImage)
async def pull_image(host: HostContext, o: PullPyroscopeImage) -> ChangeResult:
    image_id = await host.podman.pull(host.policy.pyroscope_image, o.tag)
    return ChangeResult(
        target=f"{host.policy.pyroscope_image}:{o.tag}",
        steps=[f"pulled {host.policy.pyroscope_image}:{o.tag} (image {image_id[:19]})"],
    )
