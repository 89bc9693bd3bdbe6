"""Alerts as profbot keeps them: one alert, a notification (what one webhook said about a group),
and a group with its Slack-free state (first and last seen, its thread, resolved or not).

A group's life is a run of incidents: from firing to resolved is one incident with one thread; the
same group firing after its resolution is the next incident, in a thread of its own that links the
previous one.

Alertmanager's and Grafana's webhooks share this shape (Grafana's adds a few fields; see
docs/alerting.md); bot/webhooks/payloads.py parses them into :class:`AlertNotification`. Long texts are cut, not
refused: a 4xx would make the sender drop the whole alert.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import quote

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

Source = Literal["alertmanager", "grafana"]


def cut(limit: int) -> BeforeValidator:
    """A long text is cut, not refused."""
    return BeforeValidator(lambda v: v[:limit] if isinstance(v, str) else v)


def _aware(value: datetime | None) -> datetime | None:
    # A sender that omits the zone means UTC; mixing aware and naive times breaks every comparison.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


Text = Annotated[str, cut(4000)]
Time = Annotated[datetime | None, AfterValidator(_aware)]
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")  # what an Alertmanager matcher's name may be
# What may stand in a URL as it is (RFC 3986's reserved and unreserved characters, and % of an
# escape already made); anything else is percent-encoded: a space, quotes, <, >, |, non-ASCII.
_URL_SAFE = ":/?#[]@!$&'()*+,;=-._~%"
# The labels that name an alert best when nothing else tells it apart, first first.
_NAMING_LABELS = ("instance", "service", "service_name", "job", "pod", "container", "host", "node")
_MAX_NAMING_LABELS = 3
# Grafana's default title begins with the state and count of the moment it was sent.
_GRAFANA_TITLE_STATE = re.compile(r"^\s*\[(FIRING|RESOLVED)(:\d+)?\]\s*", re.IGNORECASE)


class Alert(BaseModel):
    # Only keys are cached: a cached value (pydantic keeps 16,384) outlives the parse and pins the
    # heap of a large group, which then stays in serve's RSS.
    model_config = ConfigDict(extra="ignore", cache_strings="keys")

    status: Literal["firing", "resolved"]
    labels: dict[str, Text]
    annotations: dict[str, Text] = {}
    startsAt: Time = None
    endsAt: Time = None
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


class AlertNotification(BaseModel):
    """What one webhook said about one alert group."""

    source: Source
    group_key: str
    status: Literal["firing", "resolved"]
    receiver: str = ""
    alerts: list[Alert]
    group_labels: dict[str, str] = {}
    common_labels: dict[str, str] = {}
    common_annotations: dict[str, str] = {}
    external_url: str = ""
    title: str = ""
    truncated: int = 0  # alerts the sender left out of this notification (its max_alerts)

    @property
    def group_id(self) -> str:
        return group_id(self.source, self.group_key)


def http_url(url: str) -> str | None:
    """``url`` if it is http(s), with what a URL may not hold percent-encoded; else None."""
    url = url.strip()
    return quote(url, safe=_URL_SAFE) if url.lower().startswith(("http://", "https://")) else None


def silence_filter(labels: Mapping[str, str]) -> str | None:
    """Matchers as Alertmanager's UI writes them in its ``filter`` parameter: ``{a="x", b="y"}``,
    each value a JSON string (the UI reads it back with a JSON decoder). None without labels, or
    with a name no Alertmanager matcher can hold (a wrong prefill would silence too much)."""
    if not labels or not all(_LABEL_NAME.fullmatch(name) for name in labels):
        return None
    matchers = (f"{name}={json.dumps(value, ensure_ascii=False)}" for name, value in sorted(labels.items()))
    return "{" + ", ".join(matchers) + "}"


def group_id(source: Source, group_key: str) -> str:
    return hashlib.sha256(f"{source}\0{group_key}".encode()).hexdigest()[:20]


class AlertGroup(BaseModel):
    id: str
    source: Source
    group_key: str
    status: str
    receiver: str = ""
    group_labels: dict[str, str] = {}
    common_labels: dict[str, str] = {}
    common_annotations: dict[str, str] = {}
    external_url: str = ""
    title: str = ""
    first_seen: float
    last_seen: float
    notifications: int
    thread_ts: str | None = None  # the current incident's thread
    channel: str | None = None
    resolved_at: float | None = None
    resolved_posted: bool = False
    alerts: dict[str, Alert] = {}
    truncated: int = 0  # alerts the latest notification left out: the group has that many more
    incident: int = 1  # the how-manieth incident of this group the thread is
    previous_thread_ts: str | None = None  # the previous incident's thread
    previous_channel: str | None = None
    previous_link: str | None = None  # a link a person can follow to it, if the front end gives one
    posting_key: str | None = None  # a parent post begun with this key whose ts is not stored yet
    posting_since: float | None = None  # when that post was first tried

    @property
    def firing_count(self) -> str:
        """How many fire, and, when the sender left some out (its max_alerts), how many it did not
        send: the same words in every front end."""
        firing = len(self.firing)
        if self.truncated:
            return f"{firing} shown of {firing + self.truncated} firing ({self.truncated} not sent: raise max_alerts)"
        return f"{firing} of {len(self.alerts)} alerts firing"

    @property
    def parent_key(self) -> str:
        """The idempotency key of this incident's parent message: the same on every attempt."""
        return f"{self.id}:{self.incident}"

    @property
    def alertname(self) -> str:
        """What the group is called: its alertname, else the alertnames of its alerts, else its
        group labels, else the sender's title without the state it had when sent."""
        named = self.group_labels.get("alertname") or self.common_labels.get("alertname")
        if named:
            return named
        names = sorted({a.labels["alertname"] for a in self.alerts.values() if a.labels.get("alertname")})
        if names:
            return ", ".join(names) if len(names) <= 3 else f"{', '.join(names[:2])} and {len(names) - 2} more"
        for labels in (self.group_labels, self.common_labels):
            pairs = [f"{k}={v[:60]}" for k, v in sorted(labels.items()) if v]
            if pairs:
                return ", ".join(pairs) if len(pairs) <= 3 else f"{', '.join(pairs[:3])} and {len(pairs) - 3} more"
        return _GRAFANA_TITLE_STATE.sub("", self.title).strip() or "alert"

    def name_of(self, alert: Alert) -> str:
        """One alert among the group's: its alertname when the group has several, and the labels
        that tell it apart from the others (the naming labels when it is alone); its fingerprint
        only when no label does."""
        alerts = list(self.alerts.values())
        shared = (
            {k for k, v in alerts[0].labels.items() if all(a.labels.get(k) == v for a in alerts)} if alerts else set()
        )
        several_names = "alertname" not in shared and "alertname" not in self.group_labels
        if len(alerts) > 1:
            telling = [k for k in alert.labels if k not in shared and k != "alertname"]
        else:  # alone: its naming labels, else any label the group's name does not already say
            telling = [k for k in _NAMING_LABELS if k in alert.labels and k not in self.group_labels]
            telling = telling or sorted(k for k in alert.labels if k != "alertname" and k not in self.group_labels)
        telling.sort(key=lambda k: (_NAMING_LABELS.index(k) if k in _NAMING_LABELS else len(_NAMING_LABELS), k))
        parts = [f"{k}={alert.labels[k][:60]}" for k in telling[:_MAX_NAMING_LABELS]]
        if len(telling) > _MAX_NAMING_LABELS:
            parts.append(f"+{len(telling) - _MAX_NAMING_LABELS} labels")
        name = alert.labels.get("alertname", "") if several_names and len(alerts) > 1 else ""
        said = " ".join(filter(None, [name, ", ".join(parts)]))
        return said or alert.labels.get("alertname") or alert.identity[:12]

    def merged_labels(self) -> tuple[dict[str, str], dict[str, str]]:
        """Labels and annotations of the group, over those of its alerts: a ``runbook_id`` or a
        ``service`` set on one alert counts for the group."""
        labels, annotations = {**self.common_labels, **self.group_labels}, dict(self.common_annotations)
        for alert in sorted(self.alerts.values(), key=lambda a: a.identity):
            labels, annotations = {**alert.labels, **labels}, {**alert.annotations, **annotations}
        return labels, annotations

    @property
    def silence_url(self) -> str | None:
        """Alertmanager's new-silence form, prefilled with the group's matchers (its group labels;
        the labels all its alerts share when it is grouped by none)."""
        base = http_url(self.external_url) if self.source == "alertmanager" else None
        if base is None:
            return None
        matchers = silence_filter(self.group_labels or self.common_labels)
        form = f"{base.rstrip('/')}/#/silences/new"
        return f"{form}?filter={quote(matchers, safe='')}" if matchers else form

    @property
    def runbook_url(self) -> str | None:
        return http_url(self.merged_labels()[1].get("runbook_url", ""))

    def links(self) -> list[tuple[str, str]]:
        """The runbook and the silence form, those the group has: (what, URL)."""
        found = (("runbook", self.runbook_url), ("silence", self.silence_url))
        return [(what, url) for what, url in found if url]

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts.values() if a.status == "firing"]

    @property
    def started(self) -> datetime | None:
        starts = [a.startsAt for a in self.alerts.values() if a.startsAt and a.startsAt.year > 1]
        return min(starts) if starts else None

    @property
    def ended(self) -> datetime | None:
        """When the sender says the last of its alerts ended (their ``endsAt``), once all are
        resolved: a notification delayed or retried does not make the incident last longer."""
        alerts = list(self.alerts.values())
        if not alerts or any(a.status != "resolved" for a in alerts):
            return None
        ends = [a.endsAt for a in alerts if a.endsAt and a.endsAt.year > 1]
        return max(ends) if len(ends) == len(alerts) else None

    def lasted_seconds(self, now: float) -> float:
        """How long the incident lasted (or lasts), by the sender's times where it gave them."""
        began = self.started.timestamp() if self.started else self.first_seen
        end = self.ended.timestamp() if self.ended else (self.resolved_at or now)
        return max(0.0, end - began)
