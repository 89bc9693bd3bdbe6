"""Compose and config files: the runbook's `podman-compose` steps (recreate, a service's profiling
env, the project's .env), profbot's image pins in its compose override, and Pyroscope's config
(retention in the running version's form, backups and restore). The operators' own files are
backed up before any change, and written atomically."""

from __future__ import annotations

import contextlib

from profbot.errors import InvalidArgument, TargetNotFound
from profbot.ops.compose import (
    ClearServiceImage,
    GetServiceImage,
    ImagePin,
    RecreateService,
    SetGlobalProfiling,
    SetServiceImageTag,
    SetServiceProfiling,
)
from profbot.ops.contract import ChangeResult
from profbot.ops.pyroscope import (
    BackupPyroscopeConfig,
    RestorePyroscopeConfig,
    SetPyroscopeRetention,
)
from runner import progress, pyroscope_config, safe_files
from runner.compose import set_env_file_var
from runner.host_policy import HostContext, container_id
from runner.operations.pyroscope import running_major
from runner.operations.table import op


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


@op(RecreateService)
async def recreate_service(host: HostContext, o: RecreateService) -> ChangeResult:
    compose = host.require_changeable_service(o.service)
    await compose.up(o.service, force_recreate=True)
    container = compose.container_name(o.service)
    return ChangeResult(
        target=o.service,
        steps=[f"podman-compose up -d --force-recreate {o.service}"],
        container_id=await container_id(host, container),
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
    steps = progress.steps()
    steps.append(compose.set_service_env(o.service, updates))
    await compose.up(o.service, force_recreate=True)
    steps.append(f"podman-compose up -d --force-recreate {o.service}")
    return ChangeResult(
        target=o.service,
        steps=steps,
        container_id=await container_id(host, compose.container_name(o.service)),
    )


@op(SetGlobalProfiling)
async def set_global_profiling(host: HostContext, o: SetGlobalProfiling) -> ChangeResult:
    compose = host.require_compose()
    value = "true" if o.enabled else "false"
    steps = progress.steps()
    steps.append(set_env_file_var(compose.env_file, "PYROSCOPE_ENABLED", value))
    managed = host.policy.managed | compose.profiled_services()
    services = [name for name in compose.services_using("PYROSCOPE_ENABLED") if name in managed]
    if services:
        # A .env change reaches a container only when it is created again.
        await compose.up(*services, force_recreate=True)
        steps.append(f"podman-compose up -d --force-recreate {' '.join(services)}")
    else:
        steps.append("no service interpolates ${PYROSCOPE_ENABLED}: nothing to recreate")
    return ChangeResult(target=str(compose.env_file), steps=steps)


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
    path = host.require_config(named=o.config)
    major = await running_major(host)
    text = safe_files.read_text(path) or ""
    new_text, what = pyroscope_config.set_retention(text, o.period, major)  # refuses with reason
    steps = progress.steps()
    backup = safe_files.backup(path)  # a new one each time: a second change keeps the original's
    steps.append(f"backed up {path.name} to {backup.name}")
    safe_files.write_atomic(path, new_text)
    steps.append(f"{what} in {path.name}")
    steps.append(await _apply_config(host))
    container = host.policy.pyroscope_container
    return ChangeResult(
        target=str(path), steps=steps, backup_path=str(backup), container_id=await container_id(host, container)
    )


@op(BackupPyroscopeConfig)
async def backup_pyroscope_config(host: HostContext, _: BackupPyroscopeConfig) -> ChangeResult:
    path = host.require_config()
    backup = safe_files.backup(path)
    return ChangeResult(target=str(path), steps=[f"copied {path.name} to {backup.name}"], backup_path=str(backup))


@op(RestorePyroscopeConfig)
async def restore_pyroscope_config(host: HostContext, _: RestorePyroscopeConfig) -> ChangeResult:
    path = host.require_config()
    backup = safe_files.latest_backup(path)
    text = safe_files.read_text(backup) if backup is not None else None
    if backup is None or text is None:
        raise TargetNotFound(f"no backup of {path.name} to restore")
    steps = progress.steps()
    safe_files.write_atomic(path, text)
    steps.append(f"restored {path.name} from {backup.name}")
    steps.append(await _apply_config(host))
    return ChangeResult(target=str(path), steps=steps, backup_path=str(backup))
