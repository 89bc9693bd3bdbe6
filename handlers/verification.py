"""What runs by itself after a change: the runbook's "verify" steps, as one finding each."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from pydantic import BaseModel

from handlers.actions import Verification
from handlers.context import ProcedureContext
from handlers.findings import Finding, Severity
from profbot.ops.pyroscope import PyroscopeReady

if TYPE_CHECKING:
    from handlers.registry import Procedure

POLL_SECONDS = 1.0


def ready_within() -> Verification:
    """`curl http://localhost:4040/ready` until it answers ok, or the budget runs out."""

    async def verify(ctx: ProcedureContext, budget: float) -> Finding:
        started = time.monotonic()
        last = "no answer"
        while True:
            outcome = await ctx.run(PyroscopeReady())
            waited = time.monotonic() - started
            if outcome.value is not None and outcome.value.ready:
                return Finding(check="Pyroscope /ready", severity=Severity.OK, detail=f"ready after {waited:.0f}s")
            if outcome.value is not None:
                answer = outcome.value
                last = f"HTTP {answer.status_code}" if answer.status_code else (answer.error or "no answer")
            elif outcome.error is not None:
                last = str(outcome.error)
            if waited + POLL_SECONDS > budget:
                return Finding(
                    check="Pyroscope /ready",
                    severity=Severity.CRITICAL,
                    detail=f"not ready after {waited:.0f}s (last: {last[:200]})",
                )
            await asyncio.sleep(POLL_SECONDS)

    return verify


def diagnosed_again(procedure: Procedure, params: BaseModel) -> Verification:
    """Run the procedure's diagnosis again (reads only): its verdict is the verification."""

    async def verify(ctx: ProcedureContext, budget: float) -> Finding:
        report = await procedure(ctx.within(budget), params)
        return Finding(check=f"{procedure.id} again", severity=report.verdict, detail=report.summary())

    return verify
