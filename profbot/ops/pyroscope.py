"""Operations on the Pyroscope server: readiness, version, freshness, push latency, its config file
and retention, its image."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

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
    # v0 only: numTicks over the window. v1 says has-data from one label query (its CPU ticks are
    # nanoseconds, not samples, and counting them costs a query per service and profile type).
    samples: int | None = None


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


class Discarded(OpResult):
    """What Pyroscope's distributor refused for one reason and tenant since it started
    (``pyroscope_discarded_samples_total`` and ``pyroscope_discarded_bytes_total``)."""

    reason: str  # Pyroscope's own reason label: rate_limited, profile_size_limit, not_in_ingestion_window...
    tenant: str
    profiles: float
    bytes: float | None = None


class PushRejections(OpResult):
    api: Literal["v1", "unsupported"]
    discarded: list[Discarded]
    # The ingestion limits in force (from /api/v1/status/config, defaults included), by their
    # config names; missing where Pyroscope did not say.
    limits: dict[str, str] = Field(default_factory=dict)
    note: str | None = None


@CATALOG.register("pyroscope.rejections", OpKind.READ, timeout=15)
class PyroscopePushRejections(Operation[PushRejections]):
    """The pushes Pyroscope refused (rate, size, sample and time-window limits) and those limits."""


CPU_PROFILE_TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"  # what the SDKs push
WALL_PROFILE_TYPE = "wall:wall:nanoseconds:wall:nanoseconds"  # what py-spy's speedscope uploads land as


class FlameProfile(OpResult):
    """A service's merged profile over a window, as Pyroscope's flamebearer (format "single").

    ``levels[d]`` holds the frames at depth ``d``, four integers each: the frame's x offset from
    the end of the previous frame on that level (in ticks), its total ticks, its self ticks and
    the index of its function in ``names``. Depth 0 is the root ("total")."""

    service: str
    profile_type: str  # the type queried, e.g. CPU_PROFILE_TYPE
    start: float  # the window, epoch seconds
    end: float
    num_ticks: int  # the window's total, in ``units``; 0: no data
    max_self: int = 0
    # What a tick is, as Pyroscope's metadata says: v1 gives CPU profiles in "samples" with a
    # sample rate of 1e9 (a tick is a nanosecond of CPU), wall-clock ones in "nanoseconds".
    units: str = "samples"
    sample_rate: int = 100
    sample_type: str = ""  # what was sampled, as the metadata's name says: "cpu", "alloc_space"...
    names: list[str] = Field(default_factory=list)
    levels: list[list[int]] = Field(default_factory=list)
    ui_url: str  # the Pyroscope UI for this service and window (no credentials)
    note: str | None = None  # what was done differently (another profile type, nodes cut)


@CATALOG.register("pyroscope.profile", OpKind.READ, timeout=30)
class PyroscopeProfile(Operation[FlameProfile]):
    """The service's merged CPU profile over the last ``minutes`` (/pyroscope/render with a v1
    profile-type query; py-spy's wall-clock profile when it sent no CPU one)."""

    service: ResourceName
    minutes: Annotated[int, Field(ge=1, le=1440)] = 15


CANARY_SERVICE = "profbot-canary"  # what the push-latency canary pushes as: no service of anyone's


class PushLatency(OpResult):
    """A canary profile pushed from the runner's host and queried back: the runbook's push latency."""

    url: str  # the Pyroscope pushed to (no credentials)
    pushed: bool  # Pyroscope accepted the push
    visible: bool  # the pushed samples were queried back within ``within_s``
    latency_ms: float | None = None  # from the push's start to the first render that showed it
    push_ms: float | None = None  # the push request alone
    within_s: float  # how long it looked for them
    error: str | None = None  # why it was not pushed, or the last render that failed


@CATALOG.register("pyroscope.push_latency", OpKind.READ, timeout=30)
class MeasurePushLatency(Operation[PushLatency]):
    """Push a tiny canary profile (service ``profbot-canary``) from the runner's host and poll
    /pyroscope/render until it can be queried back, or ``within`` seconds have passed. It writes
    only the canary's own samples: no service's data is touched."""

    within: Annotated[int, Field(ge=1, le=25)] = 10

    def time_budget(self) -> float:
        return self.within + 5.0  # the push and the last render after the deadline


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


# The Pyroscope config file on the runner's host, as its runner reported it (PyroscopeConfig.path):
# a change names it so the approval binds it. The runner only compares it with its configured
# file and refuses any other, so any printable path is accepted here.
ConfigFilePath = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,4096}$")]


@CATALOG.register("pyroscope.set_retention", OpKind.CHANGE, timeout=180)
class SetPyroscopeRetention(Operation[ChangeResult]):
    """Change retention in the Pyroscope config (backed up first), in the running version's form."""

    config: ConfigFilePath  # the file it edits: the runner's configured one, or it refuses
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

    volume: ResourceName  # the volume it deletes: the runner's configured one, or it refuses
