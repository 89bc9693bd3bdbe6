"""What the bot and a runner say to each other over the job bus: a :class:`Job`, its
:class:`JobResult`, a runner's heartbeat record (:class:`RunnerInfo`) and the names and lifetimes
both sides agree on. The bot's side of the bus is profbot/bus.py, a runner's runner/worker.py.

Its own module so that a runner reads the wire format without the bot's side of the bus, and so
without Prometheus' client, which the bot always counts with and a runner only when it serves
``/metrics``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CONSUMER_GROUP = "runners"
RESULT_TTL_SECONDS = 24 * 3600
CLAIM_TTL_SECONDS = 7 * 24 * 3600
HISTORY_SAMPLES = 2000  # per host and volume: two weeks at one sample every ten minutes


class VolumeSample(BaseModel):
    at: float
    size_bytes: int


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    host: str
    op: str
    params: dict[str, Any]
    submitted_at: float
    deadline: float  # epoch seconds; a runner never starts a job past it
    requested_by: str | None = None
    approval_id: str | None = None


class JobStatus(StrEnum):
    OK = "ok"
    ERROR = "error"  # the operation raised; error_code says which OperationError
    EXPIRED = "expired"  # the deadline passed before the runner could start it
    UNKNOWN = "unknown"  # the runner stopped while the job was running; it was not re-run


class JobResult(BaseModel):
    job_id: str
    host: str
    op: str
    status: JobStatus
    result: dict[str, Any] | None = None
    error_code: str | None = None
    error: str | None = None
    started_at: float | None = None
    finished_at: float


class RunnerInfo(BaseModel):
    host: str
    version: str
    pid: int
    started_at: float
    last_seen: float
    heartbeat_seconds: float = 5.0
    podman_version: str | None = None
    podman_api_version: str | None = None
    podman_error: str | None = None
    pyroscope_url: str
    containers: list[str] = []  # container names on this host, for routing jobs to it
    # Where people open Pyroscope's UI and Grafana as this host's runner knows them (PYROSCOPE_UI_URL,
    # GRAFANA_URL), without credentials: the links `/prof ui` gives.
    pyroscope_ui_url: str | None = None
    grafana_ui_url: str | None = None

    @property
    def last_seen_at(self) -> datetime:
        return datetime.fromtimestamp(self.last_seen, UTC)
