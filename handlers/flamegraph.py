"""A service's flamegraph: its merged CPU profile over a window, read from Pyroscope by a runner.

Not a numbered procedure but what INC-PROF-002 and INC-PROF-003 lead to: "profiler overhead 60 %"
or "no data" still leaves the question of what the service is doing, which Pyroscope answers with a
profile. Both offer it as a read ("Show flamegraph"); ``/prof flame SERVICE [MINUTES]`` asks for it
directly. The report carries the profile itself (``Report.profile``): each front end draws it (a
PNG in Slack, a text flamegraph and a PNG file in the terminal) and lists its top functions.

It runs on the host of the Pyroscope container, whose runner reaches the server for certain. With
no samples in the window there is nothing to draw: the report says so and offers INC-PROF-003.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from handlers.actions import Recheck, ServiceParams
from handlers.context import Outcome, ProcedureContext
from handlers.findings import Finding, Report, Severity
from handlers.profile_analysis import display_name, is_empty, short_profile_type, top_functions
from handlers.profile_units import amount
from handlers.registry import RUNBOOK
from profbot.ops.arguments import ResourceName
from profbot.ops.contract import OpKind
from profbot.ops.pyroscope import FlameProfile, PyroscopeProfile

ID = "FLAME"
DEFAULT_MINUTES = 15
NO_DATA_PROCEDURE = "INC-PROF-003"
SHOW_IMPACT = "Reads the service's CPU profile from Pyroscope; changes nothing."


class FlameParams(BaseModel):
    service: ResourceName
    minutes: Annotated[int, Field(ge=1, le=1440)] = DEFAULT_MINUTES


@RUNBOOK.procedure(
    ID,
    title="Flamegraph",
    runbook_section="Quick Reference (Pyroscope UI)",
    alias="flame",
    argument="service",
    routes_by="pyroscope",
)
async def flamegraph(ctx: ProcedureContext, params: FlameParams) -> Report:
    profile = await ctx.run(PyroscopeProfile(service=params.service, minutes=params.minutes))
    return analyse_profile(ctx.host, params, profile)


def analyse_profile(host: str, params: FlameParams, outcome: Outcome[FlameProfile]) -> Report:
    title = f"Flamegraph of {params.service}, last {params.minutes} min"
    profile = outcome.value
    if profile is None:
        return Report(
            procedure=ID,
            title=title,
            host=host,
            findings=[
                Finding(check="Pyroscope profile", severity=Severity.WARNING, detail=f"not read: {outcome.error}")
            ],
            finished_at=datetime.now(UTC),
        )
    if is_empty(profile):  # no samples, or samples without a single frame: nothing to draw either way
        return Report(
            procedure=ID,
            title=title,
            host=host,
            headline=f"No profile from {params.service} in the last {params.minutes} min: nothing to draw",
            findings=[
                Finding(
                    check=f"samples from {params.service}",
                    severity=Severity.WARNING,
                    detail=f"none in the last {params.minutes} min. If it should be profiling, "
                    f"{NO_DATA_PROCEDURE} (no data) finds out why",
                )
            ],
            finished_at=datetime.now(UTC),
            remediations=[diagnose_no_data.offer(host, ServiceParams(service=params.service))],
        )
    top = top_functions(profile, 1)
    hottest = f"; hottest: {display_name(top[0].name)} at {top[0].share * 100:.1f} % (self)" if top else ""
    total = amount(profile, profile.num_ticks)
    notes = [profile.note] if profile.note else []
    return Report(
        procedure=ID,
        title=title,
        host=host,
        headline=f"{title}: {total} of {short_profile_type(profile.profile_type)}{hottest}",
        findings=[
            Finding(
                check=f"profile of {params.service}",
                severity=Severity.INFO,
                detail=f"{total} ({profile.profile_type}){hottest}",
            )
        ],
        finished_at=datetime.now(UTC),
        notes=notes,
        profile=profile,
    )


@RUNBOOK.action(
    ID,
    "no-data",
    risk=OpKind.READ,
    label="Diagnose no data for {service}",
    impact="Runs INC-PROF-003's diagnosis; changes nothing.",
)
def diagnose_no_data(p: ServiceParams) -> Recheck:
    procedure = RUNBOOK.get(NO_DATA_PROCEDURE)
    if procedure is None:  # registered at import (handlers/__init__.py); a missing one is a bug
        raise LookupError(f"{NO_DATA_PROCEDURE} is not registered")
    return Recheck(procedure, procedure.params_for(p.service))


def show_flamegraph(p: ServiceParams) -> Recheck:
    """What INC-PROF-002's and 003's "Show flamegraph" run (registered by those modules)."""
    return Recheck(flamegraph, FlameParams(service=p.service))
