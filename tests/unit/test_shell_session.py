"""The terminal front end on the use cases' fakes: what a person at the shell reads, and what it
makes the runner do, line by line (no Redis, no podman, no terminal)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.shell.people import TerminalPeople
from bot.shell.service import shell_user
from bot.shell.session import ShellSession
from bot.usecases.commands import Asker, Place
from profbot.errors import ConfigError
from profbot.ops import ChangeResult
from tests.unit.fakes import FakeChangeFeed
from tests.unit.world import World, make_world


class Script:
    """Answers to the session's questions, in order; None once it runs out (end of input)."""

    def __init__(self, *answers: str) -> None:
        self.answers: Iterator[str] = iter(answers)
        self.asked: list[str] = []

    async def __call__(self, prompt: str) -> str | None:
        self.asked.append(prompt)
        return next(self.answers, None)


async def session(
    world: World, user: str, *answers: str, feed: FakeChangeFeed | None = None
) -> tuple[ShellSession, list[str], Script]:
    """A person at a shell of their own, on the world's stores and runners."""
    out: list[str] = []
    people = TerminalPeople(out.append)
    profbot = world.front_end(people, feed)
    asker = Asker(user=user, place=Place(channel="shell"), roles=await profbot.access.roles(user))
    script = Script(*answers)
    return ShellSession(profbot, people, asker, script, interactive=False), out, script


def operators_world() -> World:
    return make_world(operators=frozenset({"shell:alice", "shell:bob"}), approvers=frozenset({"shell:bob"}))


async def test_a_diagnosis_then_a_chosen_remediation_confirmed_at_the_prompt_runs_once() -> None:
    world = operators_world()
    world.stop("pyroscope")
    shell, out, script = await session(world, "shell:alice", "y")

    await shell.handle("diagnose unavailable")
    report = "\n".join(out)
    assert "INC-PROF-001: Pyroscope server unavailable (host podhost-1)" in report
    assert "CRITICAL" in report and "  [1] Restart pyroscope (change)" in report

    await shell.handle("1")
    assert script.asked == ["Confirm: run Restart pyroscope on podhost-1? [y/n] "]
    shown = "\n".join(out)
    assert "Change request" in shown and "impact: Profiling data is lost during the outage" in shown
    assert "succeeded" in shown and "verification: Pyroscope /ready" in shown
    [restart] = world.bus.ran("container.restart")
    assert restart.approval_id is not None
    assert not shell.failed
    assert "confirmed" in world.trail.kinds() and world.trail.events[0].actor == "shell:alice"


async def test_a_destroy_typed_at_the_prompt_waits_for_another_shells_approval() -> None:
    world = operators_world()
    alice, out_a, _ = await session(world, "shell:alice", "pyroscope_data")
    await alice.handle("diagnose storage")
    await alice.handle("2")
    assert any("Destroy request" in line and "Delete volume pyroscope_data" in line for line in out_a)
    assert any("waiting for a second person's approval" in line for line in out_a)
    [request_id] = world.store.requests
    assert world.bus.ran("pyroscope.purge_data") == []

    await alice.handle(f"approve {request_id[:8]}")  # not by the requester
    assert "needs a second person's approval" in out_a[-1] and alice.failed

    world.bus.answer("pyroscope.purge_data", ChangeResult(target="pyroscope_data", steps=["removed the volume"]))
    bob, out_b, _ = await session(world, "shell:bob")
    await bob.handle(f"approve {request_id[:8]}")
    assert len(world.bus.ran("pyroscope.purge_data")) == 1
    assert any("succeeded" in line for line in out_b) and not bob.failed


async def test_a_request_filed_in_one_shell_shows_its_progress_there_when_another_approves_it() -> None:
    world = operators_world()
    alice, out_a, _ = await session(world, "shell:alice", "pyroscope_data")
    await alice.handle("diagnose storage")
    await alice.handle("2")
    [request_id] = world.store.requests
    world.bus.answer("pyroscope.purge_data", ChangeResult(target="pyroscope_data", steps=["removed the volume"]))

    feed = FakeChangeFeed()
    bob, out_b, _ = await session(world, "shell:bob", feed=feed)
    await bob.handle(f"approve {request_id[:8]}")
    assert set(feed.announced) == {request_id}  # every move announced, for alice's process to hear
    assert not any("succeeded" in line for line in out_a)

    # What alice's process does on hearing it: her terminal prints the request as it stands.
    await alice.profbot.executor.refresh(request_id)
    assert "succeeded" in out_a[-1] and "removed the volume" in out_a[-1]
    # Bob's process hears it too, and prints nothing twice: the request is not one of his lines.
    printed = len(out_b)
    await bob.profbot.executor.refresh(request_id)
    assert len(out_b) == printed


async def test_a_change_runs_on_when_its_announcement_cannot_be_sent() -> None:
    world = operators_world()
    world.stop("pyroscope")
    shell, out, _ = await session(world, "shell:alice", "y", feed=FakeChangeFeed(down=True))
    await shell.handle("diagnose unavailable")
    await shell.handle("1")
    assert any("succeeded" in line for line in out)
    assert len(world.bus.ran("container.restart")) == 1 and not shell.failed


async def test_what_cannot_run_says_why_and_counts_as_failed() -> None:
    world = operators_world()
    stranger, out, _ = await session(world, "shell:mallory")
    await stranger.handle("restart backend")
    assert "shell:mallory, you are not an operator of profbot" in out[-1]
    assert world.trail.kinds() == ["refused"]
    await stranger.handle("health a;b")  # open to everyone, and still checked
    assert out[-1].startswith("'a;b' is not a host name")
    await stranger.handle("7")
    assert out[-1] == "No report yet."
    assert stranger.failed
    assert world.store.requests == {} and world.bus.calls == []

    operator, said, _ = await session(world, "shell:alice")
    await operator.handle("nonsense")
    assert said[-1] == "Unknown command 'nonsense'; `help` lists them." and operator.failed


async def test_an_unanswered_confirmation_leaves_the_request_waiting() -> None:
    world = operators_world()
    shell, _, _ = await session(world, "shell:alice")  # no answers: end of input at the prompt
    await shell.handle("restart backend")
    [request_id] = world.store.requests
    assert world.store.requests[request_id].state.value == "awaiting_confirmation"
    await shell.handle(f"confirm {request_id[:8]}")
    assert world.store.requests[request_id].state.value == "succeeded"


def test_the_login_name_becomes_a_shell_identity_and_only_root_may_name_another() -> None:
    assert shell_user(login="Alice", root=False) == "shell:alice"
    assert shell_user(login="9lives", root=False) == "shell:_9lives"
    assert shell_user("a b;rm", login="root", root=True) == "shell:a_b_rm"
    with pytest.raises(ConfigError, match="you are alice; only root may act as another terminal user"):
        shell_user("bob", login="alice", root=False)  # a second name to approve one's own destroy
