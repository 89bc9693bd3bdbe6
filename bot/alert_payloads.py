"""The two alert webhooks profbot takes, as pydantic models: Alertmanager's (payload version 4)
and Grafana Alerting's webhook contact point (the same shape plus a few fields, version 1).
Unknown fields are ignored: both senders add fields over time (``../shared/reference/alerts-and-pyroscope.md``)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

Source = Literal["alertmanager", "grafana"]


def _cut(limit: int) -> BeforeValidator:
    # A long annotation is cut, not refused: a 4xx would make the sender drop the whole alert.
    return BeforeValidator(lambda v: v[:limit] if isinstance(v, str) else v)


Text = Annotated[str, _cut(4000)]


class AlertIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, Text]
    annotations: dict[str, Text] = {}
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: Text = ""
    fingerprint: Annotated[str, Field(max_length=200)] = ""
    # Grafana only
    silenceURL: Text = ""
    dashboardURL: Text = ""
    panelURL: Text = ""

    @property
    def identity(self) -> str:
        """Alertmanager's fingerprint, or (Grafana without one) a hash of the labels."""
        if self.fingerprint:
            return self.fingerprint
        return hashlib.sha256(json.dumps(self.labels, sort_keys=True).encode()).hexdigest()[:16]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str
    groupKey: Annotated[str, Field(min_length=1, max_length=2000)]
    status: Literal["firing", "resolved"]
    receiver: Text = ""
    alerts: Annotated[list[AlertIn], Field(min_length=1, max_length=10_000)]
    groupLabels: dict[str, Text] = {}
    commonLabels: dict[str, Text] = {}
    commonAnnotations: dict[str, Text] = {}
    externalURL: Text = ""
    truncatedAlerts: int = 0
    # Grafana only
    title: Text = ""
    message: Annotated[str, _cut(20_000)] = ""


EXPECTED_VERSION: dict[Source, str] = {"alertmanager": "4", "grafana": "1"}


def parse_webhook(source: Source, body: bytes) -> WebhookIn | str:
    """The payload, or the reason (for a 400) it can never be accepted."""
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"body is not valid JSON ({exc})"[:300]
    if not isinstance(raw, dict):
        return "body is not a JSON object"
    try:
        payload = WebhookIn.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"{where}: {first['msg']}{more}"[:500]
    if payload.version != EXPECTED_VERSION[source]:
        return f"version {payload.version!r}: {source} webhooks send version {EXPECTED_VERSION[source]!r}"
    return payload
