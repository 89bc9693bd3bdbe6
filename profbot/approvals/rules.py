"""Who may decide what about a change request, in which state: one pure table.

A decision (confirm, cancel, approve, reject) by a person who stands to the request as its
requester or not, an operator or not, an approver or not, on a request in a given state, has one
outcome: the request moves (to which state, said how), or the decision is refused (why). The
bot applies the outcome with a compare-and-set (profbot/approvals/store.py), so it happens once.

The rules, in order:

1. a request no longer pending is decided already: nothing changes;
2. nobody who is neither an operator nor an approver decides anything;
3. confirm and cancel belong to the requester; only the requester's confirmation runs a change
   (and they must still be an operator); a destroy is never confirmed by its requester but
   approved by a second person;
4. the requester may withdraw a pending request (cancel, or reject their own);
5. approve and reject belong to approvers other than the requester, and only on a request that
   waits for approval (a change waits for its requester's confirmation instead).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum

from profbot.approvals.model import PENDING, RequestState


class Decision(StrEnum):
    CONFIRM = "confirm"
    CANCEL = "cancel"
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True)
class Standing:
    """How the person deciding stands to the request and to profbot."""

    requester: bool
    operator: bool
    approver: bool


class Verb(StrEnum):
    """How a request moved: the audit event it leaves."""

    CONFIRMED = "confirmed"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Refusal(StrEnum):
    ALREADY_DECIDED = "already decided"  # not pending any more: the answer says by whom, when
    NOT_OPERATOR = "not an operator"
    ONLY_REQUESTER = "only the requester confirms or cancels"
    SECOND_PERSON = "a destroy needs a second person's approval"
    NOT_APPROVER = "not an approver"
    NEEDS_CONFIRMATION = "a change is confirmed by its requester, not approved"


@dataclass(frozen=True)
class Move:
    to: RequestState
    verb: Verb


Outcome = Move | Refusal

RUN_CONFIRMED = Move(RequestState.RUNNING, Verb.CONFIRMED)
RUN_APPROVED = Move(RequestState.RUNNING, Verb.APPROVED)
WITHDRAWN = Move(RequestState.CANCELLED, Verb.CANCELLED)
REJECTED = Move(RequestState.REJECTED, Verb.REJECTED)


def _rule(state: RequestState, decision: Decision, who: Standing) -> Outcome:
    if state not in PENDING:
        return Refusal.ALREADY_DECIDED
    if not (who.operator or who.approver):
        return Refusal.NOT_OPERATOR
    confirming = state is RequestState.AWAITING_CONFIRMATION
    if decision in (Decision.CONFIRM, Decision.CANCEL):
        if not who.requester:
            return Refusal.ONLY_REQUESTER
        if decision is Decision.CANCEL:
            return WITHDRAWN
        if not who.operator:
            return Refusal.NOT_OPERATOR
        return RUN_CONFIRMED if confirming else Refusal.SECOND_PERSON
    # approve, reject
    if who.requester:
        return WITHDRAWN if decision is Decision.REJECT else Refusal.SECOND_PERSON
    if not who.approver:
        return Refusal.NOT_APPROVER
    if confirming:
        return Refusal.NEEDS_CONFIRMATION
    return RUN_APPROVED if decision is Decision.APPROVE else REJECTED


STANDINGS = tuple(Standing(*flags) for flags in itertools.product((False, True), repeat=3))

# Every cell: (state, decision, standing) -> outcome. Built once from the rules above, so what the
# bot does is a lookup, and the table can be read, printed and tested cell by cell.
TABLE: dict[tuple[RequestState, Decision, Standing], Outcome] = {
    (state, decision, who): _rule(state, decision, who)
    for state in RequestState
    for decision in Decision
    for who in STANDINGS
}


def decide(state: RequestState, decision: Decision, who: Standing) -> Outcome:
    return TABLE[(state, decision, who)]
