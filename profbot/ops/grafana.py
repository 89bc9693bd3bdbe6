"""Operations on Grafana (MAINT-PROF-003): its datasources, and the runbook's provisioning file."""

from __future__ import annotations

from profbot.ops.contract import CATALOG, ChangeResult, Operation, OpKind, OpResult


class GrafanaDatasource(OpResult):
    name: str
    type: str
    url: str | None


class GrafanaDatasources(OpResult):
    grafana_url: str
    reachable: bool
    datasources: list[GrafanaDatasource]
    error: str | None = None


@CATALOG.register("grafana.datasources", OpKind.READ, timeout=15)
class ListGrafanaDatasources(Operation[GrafanaDatasources]):
    """Grafana's datasources (the runbook's `curl .../api/datasources | jq '.[].name'`)."""


@CATALOG.register("grafana.provision_pyroscope", OpKind.CHANGE, timeout=90)
class ProvisionPyroscopeDatasource(Operation[ChangeResult]):
    """Write the runbook's `pyroscope.yml` datasource provisioning file and restart Grafana."""
