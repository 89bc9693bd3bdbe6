"""The runbook as code (``../shared/reference/profiling-operations-runbook.md``).

Each runbook procedure is a typed function registered on :data:`handlers.catalog.RUNBOOK`. It asks
runners for operations through a :class:`~handlers.registry.ProcedureContext` and returns a
:class:`~handlers.findings.Report` of findings; analysis is kept in pure functions so it can be
tested on recorded outputs.
"""

# Importing a procedure module registers its procedures on RUNBOOK.
from handlers import (
    baselines,
    grafana_datasource,
    health,
    missing_profiles,
    onboarding,
    profiling_overhead,
    pyroscope_unavailable,
    storage_full,
    upgrade,
)
from handlers.registry import RUNBOOK

# Every change or destroy a procedure offers has a plan, or nothing starts.
RUNBOOK.check_complete()

__all__ = [
    "RUNBOOK",
    "baselines",
    "grafana_datasource",
    "health",
    "missing_profiles",
    "onboarding",
    "profiling_overhead",
    "pyroscope_unavailable",
    "storage_full",
    "upgrade",
]
