"""Change requests made the way the bot makes them, for tests that drive the runner directly."""

from __future__ import annotations

import time

from profbot.approvals.model import ChangeRequest, PlannedStep, RequestState, TargetIdentity
from profbot.approvals.store import ApprovalStore
from profbot.bus import JobBus
from profbot.ops.contract import AnyOperation, OpKind


async def approved(bus: JobBus, host: str, *operations: AnyOperation, identity: TargetIdentity | None = None) -> str:
    """Store a running (confirmed) change request whose steps are ``operations``; its id."""
    kind = OpKind.DESTROY if any(o.kind is OpKind.DESTROY for o in operations) else OpKind.CHANGE
    request = ChangeRequest(
        procedure="TEST", action="test", kind=kind, label="test change", host=host, target="test", impact="test",
        steps=[PlannedStep(op=o.name, params=o.model_dump(mode="json"), kind=o.kind, text=o.name) for o in operations],
        identity=identity, requested_by="U0OPERATOR", channel="C0PROFOPS", state=RequestState.RUNNING,
        expires_at=time.time() + 900, decided_at=time.time(),
        # A destroy is approved by a second person; a change confirmed by its requester.
        decided_by="U0APPROVER" if kind is OpKind.DESTROY else "U0OPERATOR",
    )  # fmt: skip
    await ApprovalStore(bus.redis, bus.keys.prefix).create(request)
    return request.id
