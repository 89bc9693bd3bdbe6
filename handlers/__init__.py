"""The runbook as code: each procedure of the profiling operations runbook (docs/runbook/).

- ``registry.py``      :data:`RUNBOOK`: procedures and actions, registered by decorator, checked at import
- ``actions.py``       remediations as typed actions: label, risk, impact, params, plan or recheck
- ``context.py``       what a procedure runs operations with; an operation's outcome
- ``findings.py``      what a procedure reports: findings, evidence, remediations offered
- ``verification.py``  what runs by itself after a change
- ``alert_routing.py`` which procedure an alert calls for
- one module per runbook section: ``health.py`` (Health Monitoring), ``pyroscope_unavailable.py``
  (INC-PROF-001), ``profiling_overhead.py`` (002), ``missing_profiles.py`` (003), ``storage_full.py``
  (004), ``upgrade.py`` (MAINT-PROF-001), ``onboarding.py`` (002), ``grafana_datasource.py`` (003),
  ``baselines.py`` (Performance Baselines); ``flamegraph.py`` (a service's profile, offered by 002
  and 003), its analysis in ``profile_analysis.py``

A procedure asks runners for operations through a :class:`~handlers.context.ProcedureContext` and
returns a :class:`~handlers.findings.Report`; analysis is kept in pure functions, tested on
recorded outputs. Nothing here knows a front end.
"""

# Importing a procedure module registers its procedures and actions on RUNBOOK.
from handlers import (
    baselines,
    flamegraph,
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

__all__ = [
    "RUNBOOK",
    "baselines",
    "flamegraph",
    "grafana_datasource",
    "health",
    "missing_profiles",
    "onboarding",
    "profiling_overhead",
    "pyroscope_unavailable",
    "storage_full",
    "upgrade",
]
