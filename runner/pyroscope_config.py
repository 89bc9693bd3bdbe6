"""The Pyroscope server config file: reading and changing retention, for the running version.

The runbook's file sets ``retention-period: 15d`` and ``storage.path`` at the top level: that is
Pyroscope v0's world. Pyroscope v1 parses its config strictly and refuses to start with those
keys; its retention is ``limits.compactor_blocks_retention_period``, and it only takes effect with
a storage bucket (``storage.backend``). Without one, v1 frees disk only under pressure.
(docs/runbook/inc-prof-004.md says what profbot does about it.)
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from profbot.errors import InvalidArgument
from profbot.ops.pyroscope import RetentionSetting

if TYPE_CHECKING:
    from ruamel.yaml import YAML

V1_RETENTION = ("limits", "compactor_blocks_retention_period")
V0_RETENTION = "retention"
RUNBOOK_KEY = "retention-period"
V0_ONLY_KEYS = (RUNBOOK_KEY, "storage-path", "analytics-opt-out")


def _yaml() -> YAML:
    from ruamel.yaml import YAML  # on first use (1.6 MB a runner that reads no config does not carry)

    yaml = YAML()  # round-trip mode: the operators' comments and key order survive an edit
    yaml.preserve_quotes = True
    return yaml


def load(text: str) -> dict[str, Any]:
    data = _yaml().load(text) if text.strip() else {}
    if data is not None and not isinstance(data, dict):
        raise InvalidArgument("the Pyroscope config is not a YAML mapping")
    return data or {}


def dump(data: dict[str, Any]) -> str:
    out = io.StringIO()
    _yaml().dump(data, out)
    return out.getvalue()


def _has_bucket(data: dict[str, Any]) -> bool:
    storage = data.get("storage")
    return isinstance(storage, dict) and bool(storage.get("backend"))


def read_retention(text: str, major: int | None) -> RetentionSetting:
    data = load(text)
    runbook_value = data.get(RUNBOOK_KEY)
    limits = data.get("limits") if isinstance(data.get("limits"), dict) else {}
    v1_value = limits.get(V1_RETENTION[1]) if limits else None
    if major is None or major >= 1:
        stale = [k for k in V0_ONLY_KEYS if k in data] + (["storage.path"] if _storage_path(data) else [])
        if stale:
            return RetentionSetting(
                key=RUNBOOK_KEY if runbook_value is not None else None,
                value=str(runbook_value) if runbook_value is not None else None,
                valid_for_running_version=False,
                explanation=(
                    f"the config has Pyroscope v0 keys ({', '.join(stale)}) that Pyroscope v1 refuses at start-up; "
                    f"v1's retention is {'.'.join(V1_RETENTION)}, which needs a storage bucket (storage.backend)"
                ),
            )
        if v1_value is not None:
            bucket = _has_bucket(data)
            return RetentionSetting(
                key=".".join(V1_RETENTION),
                value=str(v1_value),
                valid_for_running_version=True,
                explanation="applies to blocks in the storage bucket"
                if bucket
                else "set, but without a storage bucket (storage.backend) v1 does not enforce it",
            )
        return RetentionSetting(
            key=None,
            value=None,
            valid_for_running_version=True,
            explanation="no retention set: without a storage bucket Pyroscope v1 keeps data until disk "
            "pressure (it keeps 10 GiB / 5% free)",
        )
    value = data.get(V0_RETENTION, runbook_value)
    return RetentionSetting(
        key=V0_RETENTION if V0_RETENTION in data else (RUNBOOK_KEY if runbook_value is not None else None),
        value=str(value) if value is not None else None,
        valid_for_running_version=True,
        explanation="Pyroscope v0 retention",
    )


def _storage_path(data: dict[str, Any]) -> bool:
    storage = data.get("storage")
    return isinstance(storage, dict) and "path" in storage


def set_retention(text: str, period: str, major: int | None) -> tuple[str, str]:
    """The config with retention set to ``period`` for the running version, and what changed.

    Raises InvalidArgument when no edit can work for this version, saying why and what would.
    """
    data = load(text)
    if major is None or major >= 1:
        if not _has_bucket(data):
            raise InvalidArgument(
                f"Pyroscope {major or 1}.x has no retention setting without a storage bucket: the runbook's "
                f"`{RUNBOOK_KEY}: {period}` would stop it from starting, and "
                f"`{'.'.join(V1_RETENTION)}` only applies to blocks in a bucket. Without one v1 frees disk "
                "under pressure only. To bound storage: configure storage.backend (e.g. filesystem or s3) and "
                "then set the retention, or purge the data volume (INC-PROF-004's urgent path)."
            )
        dropped = [key for key in V0_ONLY_KEYS if data.pop(key, None) is not None]
        storage = data.get("storage")
        if isinstance(storage, dict) and storage.pop("path", None) is not None:
            dropped.append("storage.path")
        limits = data.setdefault("limits", {})
        old = limits.get(V1_RETENTION[1])
        limits[V1_RETENTION[1]] = period
        what = f"set {'.'.join(V1_RETENTION)}: {period} (was {old or 'unset'})"
        if dropped:
            what += f"; removed v0 keys v1 refuses: {', '.join(dropped)}"
        return dump(data), what
    old = data.pop(RUNBOOK_KEY, None) or data.get(V0_RETENTION)
    data[V0_RETENTION] = period
    return dump(data), f"set {V0_RETENTION}: {period} (was {old or 'unset'})"
