"""Runbook MAINT-PROF-003: configuring the Grafana datasource.

Checks that Grafana has a datasource of type `pyroscope` (the runbook's
`curl .../api/datasources | jq '.[].name'`, with a token instead of admin:admin) and, when it is
missing, offers to write the runbook's provisioning file and restart Grafana (a change).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel

from handlers.actions import ActionParams, Plan, Step
from handlers.context import Outcome, ProcedureContext
from handlers.findings import Finding, Remediation, Report, Severity
from handlers.registry import RUNBOOK
from handlers.verification import diagnosed_again
from profbot.ops.arguments import ResourceName
from profbot.ops.contract import OpKind
from profbot.ops.grafana import GrafanaDatasources, ListGrafanaDatasources, ProvisionPyroscopeDatasource

ID = "MAINT-PROF-003"


PROVISION_IMPACT = (
    "Writes monitoring/grafana/provisioning/datasources/pyroscope.yml and restarts Grafana "
    "(dashboards are unavailable for a few seconds)."
)


class DatasourceParams(BaseModel):
    grafana: ResourceName = "grafana"


class GrafanaParams(ActionParams):
    target_field: ClassVar[str] = "grafana"
    grafana: ResourceName


@RUNBOOK.procedure(
    ID, title="Grafana datasource", runbook_section="MAINT-PROF-003", alias="datasource", argument="grafana"
)
async def check_datasource(ctx: ProcedureContext, params: DatasourceParams) -> Report:
    found = await ctx.run(ListGrafanaDatasources())
    return analyse_datasource(ctx.host, params, found)


def analyse_datasource(host: str, params: DatasourceParams, found: Outcome[GrafanaDatasources]) -> Report:
    findings: list[Finding] = []
    remediations: list[Remediation] = []
    if found.error is not None:
        findings.append(Finding(check="Grafana API", severity=Severity.WARNING, detail=f"not checked: {found.error}"))
    elif found.value is not None and found.value.error is not None:
        findings.append(
            Finding(
                check="Grafana API",
                severity=Severity.CRITICAL,
                detail=f"{found.value.grafana_url}: {found.value.error}",
            )
        )
    elif found.value is not None:
        pyroscope = [d for d in found.value.datasources if d.type in ("pyroscope", "grafana-pyroscope-datasource")]
        others = ", ".join(d.name for d in found.value.datasources if d not in pyroscope) or "none"
        if pyroscope:
            d = pyroscope[0]
            findings.append(
                Finding(
                    check="Pyroscope datasource",
                    severity=Severity.OK,
                    detail=f"`{d.name}` -> {d.url} (others: {others})",
                )
            )
        else:
            findings.append(
                Finding(
                    check="Pyroscope datasource",
                    severity=Severity.CRITICAL,
                    detail=f"missing: Grafana has {len(found.value.datasources)} datasources ({others}), "
                    "none of type pyroscope",
                )
            )
            remediations.append(provision.offer(host, GrafanaParams(grafana=params.grafana)))
    return Report(
        procedure=ID,
        title="Grafana datasource",
        host=host,
        findings=findings,
        finished_at=datetime.now(UTC),
        remediations=remediations,
    )


@RUNBOOK.action(
    ID, "provision", risk=OpKind.CHANGE, label="Provision the Pyroscope datasource", impact=PROVISION_IMPACT
)
def provision(p: GrafanaParams) -> Plan:
    return Plan(
        steps=[Step(ProvisionPyroscopeDatasource(), "write datasources/pyroscope.yml and restart Grafana")],
        verify=diagnosed_again(check_datasource, DatasourceParams(grafana=p.grafana)),
        binds="container",
    )
