"""The decision table, every cell: who (requester or not, operator or not, approver or not) x the
request's state x the decision -> what happens. Written out here cell by cell, independently of
the rules that build the table in profbot/approvals/rules.py."""

from __future__ import annotations

import itertools

import pytest

from profbot.approvals.model import PENDING, RequestState
from profbot.approvals.rules import (
    REJECTED,
    RUN_APPROVED,
    RUN_CONFIRMED,
    TABLE,
    WITHDRAWN,
    Decision,
    Outcome,
    Refusal,
    Standing,
    decide,
)

CODES: dict[str, Outcome] = {
    "r": RUN_CONFIRMED,  # runs: confirmed by its requester
    "a": RUN_APPROVED,  # runs: approved by a second person
    "x": WITHDRAWN,  # cancelled by its requester
    "j": REJECTED,
    "N": Refusal.NOT_OPERATOR,
    "Q": Refusal.ONLY_REQUESTER,
    "S": Refusal.SECOND_PERSON,
    "A": Refusal.NOT_APPROVER,
    "C": Refusal.NEEDS_CONFIRMATION,
}

# Columns: (requester, operator, approver) =
#   ---  --a  -o-  -oa  r--  r-a  ro-  roa
EXPECTED = {
    (RequestState.AWAITING_CONFIRMATION, Decision.CONFIRM): "NQQQNNrr",
    (RequestState.AWAITING_CONFIRMATION, Decision.CANCEL): "NQQQNxxx",
    (RequestState.AWAITING_CONFIRMATION, Decision.APPROVE): "NCACNSSS",
    (RequestState.AWAITING_CONFIRMATION, Decision.REJECT): "NCACNxxx",
    (RequestState.AWAITING_APPROVAL, Decision.CONFIRM): "NQQQNNSS",
    (RequestState.AWAITING_APPROVAL, Decision.CANCEL): "NQQQNxxx",
    (RequestState.AWAITING_APPROVAL, Decision.APPROVE): "NaAaNSSS",
    (RequestState.AWAITING_APPROVAL, Decision.REJECT): "NjAjNxxx",
}
COLUMNS = [Standing(*flags) for flags in itertools.product((False, True), repeat=3)]
CELLS = [(state, decision, who) for state in RequestState for decision in Decision for who in COLUMNS]


def expected(state: RequestState, decision: Decision, who: Standing) -> Outcome:
    if state not in PENDING:
        return Refusal.ALREADY_DECIDED
    return CODES[EXPECTED[(state, decision)][COLUMNS.index(who)]]


@pytest.mark.parametrize(("state", "decision", "who"), CELLS)
def test_every_cell(state: RequestState, decision: Decision, who: Standing) -> None:
    assert decide(state, decision, who) == expected(state, decision, who)


def test_the_table_has_every_cell_and_nothing_else() -> None:
    assert set(TABLE) == set(CELLS)
    assert len(TABLE) == len(RequestState) * len(Decision) * 8 == 288


def test_only_two_cells_start_a_change_and_never_for_a_requester_approving_themselves() -> None:
    running = [cell for cell, outcome in TABLE.items() if outcome in (RUN_CONFIRMED, RUN_APPROVED)]
    assert {(s, d) for s, d, _ in running} == {
        (RequestState.AWAITING_CONFIRMATION, Decision.CONFIRM),
        (RequestState.AWAITING_APPROVAL, Decision.APPROVE),
    }
    assert all(who.requester for s, d, who in running if d is Decision.CONFIRM)
    assert all(not who.requester and who.approver for s, d, who in running if d is Decision.APPROVE)
