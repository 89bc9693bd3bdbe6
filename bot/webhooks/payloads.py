"""The two alert webhooks profbot takes, as pydantic models: Alertmanager's (payload version 4)
and Grafana Alerting's webhook contact point (the same shape plus a few fields, version 1).
Unknown fields are ignored: both senders add fields over time (newer Alertmanagers send
``notification_reason`` and ``routeLabels``, for one)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.usecases.alert_model import Alert, AlertNotification, Source, Text, cut


class WebhookIn(BaseModel):
    # Only keys are cached (label names recur): a cached value outlives the request and pins the
    # allocator pages of a large body, which then stay in serve's RSS (bench/large_alert_group.py).
    model_config = ConfigDict(extra="ignore", cache_strings="keys")

    version: str
    # Any length: `group_by` with long label values makes keys of thousands of characters, and
    # only the key's hash is kept (alert_model.group_id). A 4xx here would lose the alert for good.
    groupKey: Annotated[str, Field(min_length=1)]
    status: Literal["firing", "resolved"]
    receiver: Text = ""
    # No count limit: the body's 16 MiB bounds it (bot/webhooks/intake.py), and a 400 for a crowded
    # group would lose every alert in it; max_alerts on the receiver keeps groups smaller.
    alerts: Annotated[list[Alert], Field(min_length=1)]
    groupLabels: dict[str, Text] = {}
    commonLabels: dict[str, Text] = {}
    commonAnnotations: dict[str, Text] = {}
    externalURL: Text = ""
    truncatedAlerts: int = 0
    # Grafana only
    title: Text = ""
    message: Annotated[str, cut(20_000)] = ""

    def notification(self, source: Source) -> AlertNotification:
        return AlertNotification(
            source=source,
            group_key=self.groupKey,
            status=self.status,
            receiver=self.receiver,
            alerts=self.alerts,
            group_labels=self.groupLabels,
            common_labels=self.commonLabels,
            common_annotations=self.commonAnnotations,
            external_url=self.externalURL,
            title=self.title,
            truncated=max(self.truncatedAlerts, 0),
        )


EXPECTED_VERSION: dict[Source, str] = {"alertmanager": "4", "grafana": "1"}

# The fields only Grafana's legacy dashboard alerting sends (its webhook notifier: ruleId,
# ruleName, evalMatches, ruleUrl; no `alerts` list), which no retry can turn into a notification.
LEGACY_GRAFANA_FIELDS = frozenset({"ruleId", "ruleName", "evalMatches", "ruleUrl"})
LEGACY_GRAFANA = (
    "legacy Grafana alerting is not supported; use a contact point (deploy/alerting/grafana-contact-point.yml)"
)


def _is_legacy_grafana(body: bytes | bytearray) -> bool:
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    return isinstance(payload, dict) and "alerts" not in payload and bool(LEGACY_GRAFANA_FIELDS & payload.keys())


def parse_webhook(source: Source, body: bytes | bytearray) -> AlertNotification | str:
    """The notification, or the reason (for a 400) it can never be accepted. Parsed and validated
    in one pass (pydantic's own JSON parser), without a Python dict of the body in between."""
    try:
        payload = WebhookIn.model_validate_json(body)
    except ValidationError as exc:
        if source == "grafana" and _is_legacy_grafana(body):  # only on the refusal path: no second parse
            return LEGACY_GRAFANA
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            return f"body is not valid JSON ({first['msg']})"[:300]
        if first["type"] == "model_type" and not first["loc"]:  # a list, a string, a number
            return "body is not a JSON object"
        where = ".".join(str(p) for p in first["loc"]) or "body"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"{where}: {first['msg']}{more}"[:500]
    if payload.version != EXPECTED_VERSION[source]:
        return f"version {payload.version!r}: {source} webhooks send version {EXPECTED_VERSION[source]!r}"
    return payload.notification(source)
