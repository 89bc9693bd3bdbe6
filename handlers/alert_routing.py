"""Which runbook procedure an alert calls for.

In order: a ``runbook_id`` label or annotation (``INC-PROF-001``), a ``runbook_url`` annotation
ending in an id (``.../runbook.md#inc-prof-001``), then the alertname table: the defaults below,
extended or overridden by ``PROFBOT_ALERT_PROCEDURES``. Only diagnoses are ever run for an alert.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Alert names as the runbook's monitoring names them, and the usual ones for the same conditions.
DEFAULT_ALERT_PROCEDURES: dict[str, str] = {
    "PyroscopeDown": "INC-PROF-001",
    "PyroscopeUnavailable": "INC-PROF-001",
    "PyroscopeNotReady": "INC-PROF-001",
    "ProfilingHighOverhead": "INC-PROF-002",
    "ProfilerHighCPU": "INC-PROF-002",
    "ProfilesMissing": "INC-PROF-003",
    "ProfilerNotCollecting": "INC-PROF-003",
    "PyroscopeStorageFull": "INC-PROF-004",
    "PyroscopeDiskFull": "INC-PROF-004",
}

_ID = re.compile(r"(INC-PROF-\d{3}|MAINT-PROF-\d{3})", re.IGNORECASE)
_URL_ID = re.compile(r"(INC-PROF-\d{3}|MAINT-PROF-\d{3})/?$", re.IGNORECASE)
# Labels that name the service or container an alert is about, in order of preference.
TARGET_LABELS = ("service", "service_name", "container", "container_name", "name")


def procedure_for(
    labels: Mapping[str, str], annotations: Mapping[str, str], table: Mapping[str, str] | None = None
) -> str | None:
    for source in (labels, annotations):
        match = _ID.fullmatch(source.get("runbook_id", "").strip())
        if match:
            return match.group(1).upper()
    match = _URL_ID.search(annotations.get("runbook_url", "").strip())
    if match:
        return match.group(1).upper()
    merged = {**DEFAULT_ALERT_PROCEDURES, **(table or {})}
    return merged.get(labels.get("alertname", ""))


def target_for(labels: Mapping[str, str]) -> str | None:
    for name in TARGET_LABELS:
        if labels.get(name):
            return labels[name]
    return None
