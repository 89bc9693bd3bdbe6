"""`profbot shell`, the terminal front end, end to end: real processes on the real Redis and podman
rig, through standard input (a script) and through a pseudo-terminal (a person typing)."""

from __future__ import annotations

import re
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from pexpect.popen_spawn import PopenSpawn

from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import BotProcess, RunnerProcess, base_env, run_profbot
from tests.rig.slack_requests import APPROVER, post_command
from tests.rig.slack_standin import SlackStandIn

REQUEST = re.compile(r"(?:Change|Destroy) request ([0-9a-f]{32}): ")


@pytest.fixture
def stack(pyroscope: PodmanRig) -> Iterator[PodmanRig]:
    yield pyroscope
    pyroscope.reset_stack()


@pytest.fixture
def shell_env(redis_url: str, prefix: str, tmp_path: Path) -> dict[str, str]:
    return base_env(
        REDIS_URL=redis_url, PROFBOT_REDIS_PREFIX=prefix, PROFBOT_STATE_DIR=str(tmp_path / "state"),
        PROFBOT_OPERATORS="shell:alice,shell:bob", PROFBOT_APPROVERS="shell:bob", PROFBOT_JOB_TIMEOUT="15",
        PROFBOT_VERIFY_SECONDS="30",
    )  # fmt: skip


def test_a_diagnosis_and_a_chosen_change_confirmed_from_a_script(
    shell_env: dict[str, str], runner: RunnerProcess, stack: PodmanRig
) -> None:
    stack.podman("stop", "-t", "5", "pyroscope")
    done = run_profbot("shell", "--user", "alice", env=shell_env,
                       stdin="diagnose unavailable\n1\ny\nhealth\n")  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "INC-PROF-001: Pyroscope server unavailable (host podhost-1)" in out
    assert "CRITICAL" in out and "[1] Restart pyroscope (change)" in out
    assert "Change request" in out and "Restart pyroscope" in out
    assert re.search(r"request [0-9a-f]{12} \(Restart pyroscope\): succeeded", out), out
    assert "verification: Pyroscope /ready: ready after" in out
    assert out.index("Pyroscope health: all checks pass") > out.index("verification:")  # the script waited
    assert stack.inspect("pyroscope", "{{.State.Status}}") == "running"


def test_a_destroy_typed_in_one_shell_is_approved_from_another(
    shell_env: dict[str, str], runner: RunnerProcess, stack: PodmanRig
) -> None:
    created = stack.podman("volume", "inspect", "pyroscope_data", "--format", "{{.CreatedAt}}").stdout.strip()
    first = run_profbot("shell", "--user", "alice", env=shell_env, stdin="diagnose storage\n2\npyroscope_data\n")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "[2] Delete volume pyroscope_data (destroy)" in first.stdout
    assert "waiting for a second person's approval" in first.stdout
    request_id = REQUEST.findall(first.stdout)[-1]
    assert stack.podman("volume", "inspect", "pyroscope_data", "--format", "{{.CreatedAt}}").stdout.strip() == created

    second = run_profbot("shell", "--user", "bob", env=shell_env, stdin=f"approve {request_id[:8]}\n")
    assert second.returncode == 0, second.stdout + second.stderr
    assert re.search(r"request [0-9a-f]{12} \(Delete volume pyroscope_data\): succeeded", second.stdout)
    assert stack.podman("volume", "inspect", "pyroscope_data", "--format", "{{.CreatedAt}}").stdout.strip() != created


def test_a_destroy_typed_in_the_shell_is_approved_from_slack_and_the_shell_shows_it_run(
    shell_env: dict[str, str], bot: BotProcess, runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn
) -> None:
    created = stack.podman("volume", "inspect", "pyroscope_data", "--format", "{{.CreatedAt}}").stdout.strip()
    # Alice's shell stays open on a pipe while the approval comes from Slack.
    alice = PopenSpawn(
        [sys.executable, "-m", "cli", "shell", "--user", "alice"], env=shell_env, encoding="utf-8",
        timeout=90, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    try:
        alice.sendline("diagnose storage")
        alice.expect(r"\[2\] Delete volume pyroscope_data")
        alice.sendline("2")
        alice.sendline("pyroscope_data")
        alice.expect(REQUEST)
        request_id = str(alice.match.group(1))
        alice.expect("waiting for a second person's approval")

        # In Slack the request has no message to click on: an approver types the decision instead.
        post_command(bot.url, f"approve {request_id[:8]}", response_url=slack.response_url("approve"), user=APPROVER)
        assert "Destroy request: Delete volume pyroscope_data" in slack.said("approve")
        # Alice's terminal follows the request the Slack process runs, to its end.
        alice.expect(rf"request {request_id[:12]} \(Delete volume pyroscope_data\): succeeded")
        alice.sendeof()
        alice.expect(pexpect.EOF)
    finally:
        if alice.proc.poll() is None:
            alice.kill(signal.SIGTERM)
    assert alice.wait() == 0
    assert stack.podman("volume", "inspect", "pyroscope_data", "--format", "{{.CreatedAt}}").stdout.strip() != created
    later = run_profbot("shell", "--user", "alice", env=shell_env, stdin=f"request {request_id[:8]}\n")
    assert "decided by U0APPROVER" in later.stdout, later.stdout


def test_an_unknown_command_gets_help_and_the_script_fails(shell_env: dict[str, str]) -> None:
    done = run_profbot("shell", "--user", "alice", env=shell_env, stdin="reboot-everything now\nhelp\n")
    assert done.returncode == 1
    assert "Unknown command 'reboot-everything'; `help` lists them." in done.stdout
    assert "restart SERVICE" in done.stdout and "approve ID | reject ID" in done.stdout


def completed(typed: str, rest: str) -> str:
    """What was typed, then what completion added: the terminal may draw the two in separate
    screen updates, with escape sequences between them."""
    return re.escape(typed) + r"(?:\x1b\[[0-9;?]*[A-Za-z]|\x1b\[\?[0-9]*[hl])*" + re.escape(rest)


def test_at_a_terminal_lines_are_edited_completed_and_remembered(
    shell_env: dict[str, str], runner: RunnerProcess, stack: PodmanRig
) -> None:
    env = {**shell_env, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"}
    shell = pexpect.spawn(
        f"{sys.executable} -m cli shell --user alice", env=env, encoding="utf-8", timeout=60,
        dimensions=(40, 200),
    )  # fmt: skip
    try:
        shell.expect("profbot shell as shell:alice")
        shell.expect("profbot>")
        shell.send("heal\t")  # completes to `health`
        shell.expect(completed("heal", "th"))
        shell.send("\r")
        shell.expect("Pyroscope health: all checks pass")
        shell.expect("profbot>")
        shell.send("diag\t")  # `diagnose unavailable`, both words completed
        shell.expect(completed("diag", "nose"))
        shell.send(" unav\t")
        shell.expect(completed("unav", "ailable"))
        shell.send("\r")
        shell.expect(r"INC-PROF-001: Pyroscope server unavailable")
        shell.expect("profbot>")
        shell.send("nonsense\r")  # a line that could not run: said, and no failure of the session
        shell.expect("Unknown command 'nonsense'")
        shell.expect("profbot>")
        shell.sendcontrol("d")
        shell.expect(pexpect.EOF)
    finally:
        shell.close()
    assert shell.exitstatus == 0
    history = (Path(shell_env["PROFBOT_STATE_DIR"]) / "shell_history").read_text()
    assert "health" in history and "diagnose unavailable" in history
