"""What a change names and holds: purge and retention carry the volume or config file they act on
(bound in the approval with the steps), and a change refused because another holds its target is
said in both front ends with who holds it and since when."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.shell.render import text
from bot.slack.render import render
from bot.usecases.content import TargetBusy
from handlers.context import Outcome
from handlers.storage_full import StorageParams, analyse_storage, purge, reduce_retention
from profbot.approvals.model import ChangeRequest, RequestState
from profbot.errors import JobTimeout
from profbot.ops import OpKind
from profbot.ops.contract import TextOutput
from profbot.ops.pyroscope import PurgePyroscopeData, PyroscopeConfig, RetentionSetting, SetPyroscopeRetention

CONFIG = PyroscopeConfig(
    path="/srv/pyroscope/server.yml",
    output=TextOutput(lines=[]),
    retention=RetentionSetting(key=None, value=None, valid_for_running_version=True, explanation="none set"),
)


def storage(config: Outcome[PyroscopeConfig]) -> dict[str, dict[str, object]]:
    report = analyse_storage(
        "h1", StorageParams(), Outcome(error=JobTimeout("x")), Outcome(error=JobTimeout("x")), config, []
    )
    return {r.action: r.params for r in report.remediations}


def test_retention_names_the_config_file_the_runner_read_and_its_plan_carries_it() -> None:
    offered = storage(Outcome(value=CONFIG))
    assert offered["reduce-retention"] == {"container": "pyroscope", "period": "7d", "config": CONFIG.path}
    [step] = reduce_retention.plan(reduce_retention.parse(offered["reduce-retention"])).steps
    assert step.operation == SetPyroscopeRetention(config=CONFIG.path, period="7d")
    assert step.text == "back up /srv/pyroscope/server.yml, set retention to 7d in it, recreate pyroscope"


def test_retention_is_not_offered_when_the_config_file_was_not_read() -> None:
    report = analyse_storage(
        "h1", StorageParams(), Outcome(error=JobTimeout("x")), Outcome(error=JobTimeout("x")),
        Outcome(error=JobTimeout("runner on h1 gave no answer")), [],
    )  # fmt: skip
    assert [r.action for r in report.remediations] == ["purge"]
    assert "Setting retention is not offered: the runner did not read the Pyroscope config file." in report.notes


def test_purge_names_its_volume_in_the_operation() -> None:
    params = storage(Outcome(value=CONFIG))["purge"]
    [step] = purge.plan(purge.parse(params)).steps
    assert step.operation == PurgePyroscopeData(volume="pyroscope_data")
    assert step.operation.model_dump(mode="json") == {"volume": "pyroscope_data"}  # what the approval binds


HOLDER = ChangeRequest(
    id="0123456789abcdef0123456789abcdef", procedure="INC-PROF-001", action="restart", kind=OpKind.CHANGE,
    label="Restart pyroscope", host="podhost-1", target="pyroscope", impact="i", steps=[], requested_by="U0ALICE",
    channel="C0", state=RequestState.AWAITING_CONFIRMATION,
    created_at=datetime(2026, 11, 26, 15, 2, 3, tzinfo=UTC).timestamp(),
    expires_at=datetime(2026, 11, 26, 15, 17, 3, tzinfo=UTC).timestamp(),
)  # fmt: skip


def test_a_held_target_is_said_with_who_holds_it_and_since_when_in_slack() -> None:
    message = render(TargetBusy("Recreate pyroscope", HOLDER))
    assert message.text == (
        ":no_entry: `Recreate pyroscope` was not filed: `pyroscope` on host `podhost-1` is held by `Restart "
        "pyroscope` (`0123456789ab`), requested by <@U0ALICE>, since 15:02:03 UTC: :hourglass_flowing_sand: "
        "waiting for the requester's confirmation. One change at a time per target: wait for it to finish, or "
        "have it cancelled. Nothing new was filed."
    )


def test_a_running_holder_is_said_with_who_started_it_and_when_in_the_shell() -> None:
    running = HOLDER.model_copy(
        update={"state": RequestState.RUNNING, "decided_by": "shell:bob",
                "decided_at": datetime(2026, 11, 26, 15, 4, 0, tzinfo=UTC).timestamp()}
    )  # fmt: skip
    assert text(TargetBusy("Set retention to 7d", running)) == (
        "Set retention to 7d was not filed: pyroscope on host podhost-1 is held by Restart pyroscope "
        "(0123456789abcdef0123456789abcdef), requested by U0ALICE, since 15:04:00 UTC, started by shell:bob "
        "(running). One change at a time per target: wait for it to finish, or have it cancelled. Nothing new "
        "was filed."
    )


def test_a_held_target_and_host_are_escaped_in_slack() -> None:
    odd = HOLDER.model_copy(update={"target": "<!channel>", "host": "h<@U0EVE>"})
    text_ = render(TargetBusy("Recreate pyroscope", odd)).text
    assert "`&lt;!channel&gt;` on host `h&lt;@U0EVE&gt;`" in text_ and "<!channel>" not in text_
