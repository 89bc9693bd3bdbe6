"""Operations on the Pyroscope server: readiness, version, freshness, its config file and
retention, its image."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from profbot.ops.arguments import Duration, ImageTag, ResourceName
from profbot.ops.contract import CATALOG, ChangeResult, Operation, OpKind, OpResult, TextOutput

# ---------------------------------------------------------------------------- read


class ReadyResult(OpResult):
    url: str
    ready: bool
    status_code: int | None
    body: str
    latency_ms: float
    error: str | None = None  # set when no HTTP answer came back at all


@CATALOG.register("pyroscope.ready", OpKind.READ, timeout=10)
class PyroscopeReady(Operation[ReadyResult]):
    """GET /ready on the Pyroscope server, as seen from the runner's host."""


class PyroscopeVersion(OpResult):
    version: str | None  # "1.18.0"
    major: int | None
    raw: str


@CATALOG.register("pyroscope.version", OpKind.READ, timeout=10)
class GetPyroscopeVersion(Operation[PyroscopeVersion]):
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


@CATALOG.register("pyroscope.freshness", OpKind.READ, timeout=30)
class PyroscopeFreshness(Operation[Freshness]):
    """Which services sent profiles in the last ``minutes`` (the runbook's freshness check)."""

    services: Annotated[list[ResourceName], Field(max_length=50, default_factory=list)]
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
    backups: list[str] = Field(default_factory=list)  # backup file names, oldest first


@CATALOG.register("pyroscope.config", OpKind.READ, timeout=15)
class GetPyroscopeConfig(Operation[PyroscopeConfig]):
    """The Pyroscope server config file and its retention setting, read for the running version."""


# ---------------------------------------------------------------------------- change


@CATALOG.register("pyroscope.set_retention", OpKind.CHANGE, timeout=180)
class SetPyroscopeRetention(Operation[ChangeResult]):
    """Change retention in the Pyroscope config (backed up first), in the running version's form."""

    period: Duration


@CATALOG.register("pyroscope.backup_config", OpKind.CHANGE, timeout=30)
class BackupPyroscopeConfig(Operation[ChangeResult]):
    """A new, timestamped copy of the Pyroscope config beside it."""


@CATALOG.register("pyroscope.restore_config", OpKind.CHANGE, timeout=180)
class RestorePyroscopeConfig(Operation[ChangeResult]):
    """Put the last backup (``.bak``) back in place."""


@CATALOG.register("image.pull", OpKind.CHANGE, timeout=600)
class PullPyroscopeImage(Operation[ChangeResult]):
    """Pull grafana/pyroscope:TAG and check that an image really arrived."""

    tag: ImageTag


# ---------------------------------------------------------------------------- destroy


@CATALOG.register("pyroscope.purge_data", OpKind.DESTROY, timeout=300)
class PurgePyroscopeData(Operation[ChangeResult]):
    """The runbook's urgent storage path: stop Pyroscope, remove its data volume, start it again.
    Deletes all profiling history."""
