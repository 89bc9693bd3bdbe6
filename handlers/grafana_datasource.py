"""Runbook MAINT-PROF-003: configuring the Grafana datasource.

Checks that Grafana has a datasource of type `pyroscope` (the runbook's
`curl .../api/datasources | jq '.[].name'`, with a token instead of admin:admin) and, when it is
missing, offers to write the runbook's provisioning file and restart Grafana (a change).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from handlers.findings import Finding, Remediation, Report, Severity
from handlers.registry import RUNBOOK, Outcome, Plan, ProcedureContext, Step
from handlers.verification import diagnosed_again
from profbot.ops import (
    GrafanaDatasources,
    ListGrafanaDatasources,
    OpKind,
    ProvisionPyroscopeDatasource,
    ResourceName,
)

ID = "MAINT-PROF-003"


PROVISION_IMPACT = (
    "Writes monitoring/grafana/provisioning/datasources/pyroscope.yml and restarts Grafana "
    "(dashboards are unavailable for a few seconds)."
)


class DatasourceParams(BaseModel):
    grafana: ResourceName = "grafana"


@RUNBOOK.procedure(
    ID, title="Grafana datasource", runbook_section="MAINT-PROF-003", actions={"provision": OpKind.CHANGE}
)
async def check_datasource(ctx: ProcedureContext, params: DatasourceParams) -> Report:
    found = await ctx.run(ListGrafanaDatasources(), GrafanaDatasources)
    return analyse_datasource(ctx.host, params, found)


def analyse_datasource(host: str, params: DatasourceParams, found: Outcome[GrafanaDatasources]) -> Report:
    findings: list[Finding] = []
    remediations: list[Remediation] = []
    provision = Remediation(
        procedure=ID, action="provision", label="Provision the Pyroscope datasource", kind=OpKind.CHANGE,
        target=params.grafana, host=host,
        impact=PROVISION_IMPACT,
    )  # fmt: skip
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
            remediations.append(provision)
    return Report(
        procedure=ID,
        title="Grafana datasource",
        host=host,
        findings=findings,
        finished_at=datetime.now(UTC),
        remediations=remediations,
    )


@RUNBOOK.plan(ID, "provision")
def plan_provision(remedy: Remediation) -> Plan:
    return Plan(
        steps=[Step(ProvisionPyroscopeDatasource(), "write datasources/pyroscope.yml and restart Grafana")],
        verify=diagnosed_again(RUNBOOK, ID, DatasourceParams(grafana=remedy.target)),
        impact=PROVISION_IMPACT,
        binds=("container", remedy.target),
    )
