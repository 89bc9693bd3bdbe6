"""The App Home tab as Slack is sent it: inside Block Kit's limits for a Home tab (checked by the
Slack stand-in's validator), with the request messages' own buttons, and what it says when
nothing was checked yet."""

from __future__ import annotations

import time

from bot.slack import action_ids
from bot.slack.render import render
from bot.slack.render.home import home_view
from bot.usecases.commands import Role
from bot.usecases.home_model import HealthSeen, HomeOverview, HostStatus
from handlers.findings import Severity
from profbot.approvals.model import ChangeRequest, PlannedStep, RequestState
from profbot.audit import AuditEvent, AuditKind
from profbot.jobs import RunnerInfo
from profbot.ops import OpKind
from tests.rig.slack_standin import block_errors
from tests.rig.slack_views import MAX_HOME_BLOCKS

EVERYONE = frozenset({Role.OPERATOR, Role.APPROVER})


def request(n: int, state: RequestState, kind: OpKind = OpKind.DESTROY, by: str = "U0OTHER") -> ChangeRequest:
    return ChangeRequest(
        procedure="INC-PROF-004", action="purge", kind=kind, label=f"Delete volume v{n}", host="podhost-1",
        target=f"v{n}", impact="x" * 2500, steps=[PlannedStep(op="pyroscope.purge_data", params={}, kind=kind,
        text="podman volume rm")], requested_by=by, channel="C0PROFOPS", state=state,
        expires_at=time.time() + 900,
    )  # fmt: skip


def runner(host: str) -> RunnerInfo:
    return RunnerInfo(host=host, version="1.0", pid=1, started_at=0, last_seen=time.time(), podman_version="5.4.2",
                      pyroscope_url="http://pyroscope:4040")  # fmt: skip


def buttons(view: dict) -> list[tuple[str, str]]:
    return [(e["action_id"], e["value"]) for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]


def text(view: dict) -> str:
    """What a person reads: sections' and headers' texts, and contexts'."""
    parts = [b["text"]["text"] for b in view["blocks"] if isinstance(b.get("text"), dict)]
    parts += [e["text"] for b in view["blocks"] if b["type"] == "context" for e in b["elements"]]
    return "\n".join(parts)


def test_a_full_home_fits_a_home_tab_and_says_what_it_left_out() -> None:
    seen = HealthSeen(host="h0", verdict=Severity.CRITICAL, summary="<!channel> down", at=time.time(),
                      procedure="INC-PROF-001")  # fmt: skip
    home = HomeOverview(
        user="U0ME", roles=EVERYONE, built_at=time.time(),
        hosts=[HostStatus(f"h{i}", i % 2 == 0, runner(f"h{i}"), seen if i == 0 else None) for i in range(40)],
        to_decide=[request(i, RequestState.AWAITING_APPROVAL) for i in range(10)],
        mine=[request(i, RequestState.AWAITING_CONFIRMATION, OpKind.CHANGE, by="U0ME") for i in range(10, 20)],
        audit=[AuditEvent(kind=AuditKind.REQUESTED, actor="U0ME", outcome="y" * 600) for _ in range(10)],
    )  # fmt: skip

    view = home_view(home).to_dict()

    assert view["type"] == "home"
    assert block_errors(view["blocks"], max_blocks=MAX_HOME_BLOCKS) == []
    assert len(view["blocks"]) <= MAX_HOME_BLOCKS
    shown = text(view)
    assert "20 more hosts" in shown
    assert "&lt;!channel&gt; down" in shown and "<!channel>" not in shown  # what came from outside cannot ping
    assert "not checked yet" in shown


def test_the_home_s_buttons_are_the_request_message_s_own() -> None:
    theirs = request(1, RequestState.AWAITING_APPROVAL)
    mine = request(2, RequestState.AWAITING_CONFIRMATION, OpKind.CHANGE, by="U0ME")
    home = HomeOverview(user="U0ME", roles=EVERYONE, built_at=time.time(), to_decide=[theirs], mine=[mine])

    shown = buttons(home_view(home).to_dict())

    message_buttons = [
        (e["action_id"], e["value"])
        for r in (theirs, mine)
        for b in render(r).as_kwargs()["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert shown == message_buttons  # the listeners that take them from the message take them here
    assert [a for a, _ in shown] == [action_ids.APPROVE, action_ids.REJECT, action_ids.CONFIRM, action_ids.CANCEL]


def test_someone_without_a_role_is_shown_health_only() -> None:
    home = HomeOverview(user="U0SOMEONE", roles=frozenset(), built_at=time.time(),
                        hosts=[HostStatus("podhost-1", True, None, None)])  # fmt: skip

    view = home_view(home).to_dict()

    shown = text(view)
    assert "podhost-1" in shown and "not checked yet" in shown
    assert "runner" not in shown.split("podhost-1")[1].split("\n")[0]  # no runner details
    assert "Your requests" not in shown and "Audit" not in shown and "Waiting for your decision" not in shown
    assert buttons(view) == []
