"""The pushes Pyroscope v1 refused, from its own /metrics, and the limits that refused them, from
/api/v1/status/config (the running config, defaults included).

Pyroscope's distributor counts every refused push in ``pyroscope_discarded_samples_total`` and
``pyroscope_discarded_bytes_total`` by ``reason`` (pkg/validation/validate.go: ``rate_limited``,
``profile_size_limit``, ``samples_limit``, ``not_in_ingestion_window``, ``body_size_limit_exceeded``...)
and ``tenant``. The counters run since Pyroscope started.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from profbot.ops.pyroscope import Discarded, PushRejections
from runner.pyroscope import PyroscopeClient

# The limits a refusal names (pkg/validation/limits.go's yaml names), as the finding quotes them.
LIMIT_NAMES = (
    "ingestion_rate_mb",
    "ingestion_burst_size_mb",
    "ingestion_body_limit_mb",
    "max_profile_size_bytes",
    "max_profile_stacktrace_samples",
    "max_profile_stacktrace_sample_labels",
    "max_label_names_per_series",
    "reject_older_than",
    "reject_newer_than",
)
# Prometheus' text format, one sample a line: name{labels} value [timestamp].
_SAMPLE = re.compile(r"^(pyroscope_discarded_(?:samples|bytes)_total)\{([^}]*)\}\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
MAX_METRICS_BYTES = 8 * 1024 * 1024  # Pyroscope's /metrics is a few hundred KB; a bound all the same
MAX_CONFIG_BYTES = 2 * 1024 * 1024


def discarded_from_metrics(text: str) -> list[Discarded]:
    """Each reason and tenant's refused profiles and bytes; reasons with nothing refused left out."""
    totals: dict[tuple[str, str], dict[str, float]] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m is None:
            continue
        labels = dict(_LABEL.findall(m.group(2)))
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        key = (labels.get("reason", "unknown"), labels.get("tenant", "anonymous"))
        kind = "bytes" if m.group(1).endswith("_bytes_total") else "profiles"
        totals.setdefault(key, {})[kind] = value
    found = [
        Discarded(reason=reason, tenant=tenant, profiles=counts.get("profiles", 0.0), bytes=counts.get("bytes"))
        for (reason, tenant), counts in totals.items()
        if counts.get("profiles", 0.0) > 0 or (counts.get("bytes") or 0.0) > 0
    ]
    return sorted(found, key=lambda d: (-d.profiles, d.reason, d.tenant))


def limits_from_config(text: str) -> dict[str, str]:
    """The known limits in the ``limits:`` section of Pyroscope's config YAML."""
    from ruamel.yaml import YAML  # on first use: the runner's other reads never load it
    from ruamel.yaml.error import YAMLError

    try:
        doc: Any = YAML(typ="safe").load(text)
    except (YAMLError, RecursionError, ValueError):
        return {}
    limits = doc.get("limits") if isinstance(doc, dict) else None
    if not isinstance(limits, dict):
        return {}
    return {name: str(limits[name])[:40] for name in LIMIT_NAMES if name in limits and limits[name] is not None}


async def push_rejections(client: PyroscopeClient) -> PushRejections:
    try:
        metrics = await client.get("/metrics")
    except httpx.HTTPError as exc:
        return PushRejections(
            api="unsupported", discarded=[], note=f"Pyroscope's /metrics did not answer: {type(exc).__name__}"
        )
    if metrics.status_code != 200:
        return PushRejections(
            api="unsupported", discarded=[], note=f"Pyroscope's /metrics answered {metrics.status_code}"
        )
    discarded = discarded_from_metrics(metrics.text[:MAX_METRICS_BYTES])
    note = None
    limits: dict[str, str] = {}
    try:
        config = await client.get("/api/v1/status/config")
        if config.status_code == 200:
            limits = limits_from_config(config.text[:MAX_CONFIG_BYTES])
        else:
            note = f"the running config was not read (/api/v1/status/config answered {config.status_code})"
    except httpx.HTTPError as exc:
        note = f"the running config was not read: {type(exc).__name__}"
    api = "v1" if "pyroscope_discarded_samples_total" in metrics.text or limits else "unsupported"
    if api == "unsupported" and note is None:
        note = "this Pyroscope exports no pyroscope_discarded_samples_total (a v0 server): refusals not counted"
    return PushRejections(api=api, discarded=discarded, limits=limits, note=note)
