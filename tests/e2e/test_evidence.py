"""Long evidence end to end: a profiler log longer than a message holds, read by a real runner from a
container on the podman rig, reaches the diagnosis's thread as an excerpt and a file uploaded with
files_upload_v2 (files.getUploadURLExternal, the upload URL, files.completeUploadExternal), every
line in it, the secrets redacted by the runner."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import message_text
from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import BotProcess, RunnerProcess
from tests.rig.slack_requests import post_command
from tests.rig.slack_standin import DEFAULT_CHANNEL, SlackStandIn, block_errors

SECRET = "s3cr3t-0f-the-pyroscope-push"  # what must never leave the runner
LOG = "/tmp/profiler.log"
# 1,500 lines, ~110 KB: more than a message (50 blocks of 3,000 characters) shows well, and more than
# 500 lines or 64 KB, so a bound at either would show as a cut log.
LINES = [
    f"{i:05d} py-spy: sampled pid 1 at 100 Hz, pushed to http://pyroscope:4040"
    + (f" with PYROSCOPE_AUTH_TOKEN={SECRET}" if i % 100 == 7 else "")
    for i in range(1500)
]


def in_container(stack: PodmanRig, script: str, data: str = "") -> str:
    done = subprocess.run(["podman", "exec", "-i", "ai-yolo26", "sh", "-c", script], input=data, text=True,
                          env=stack.env, check=True, capture_output=True)  # fmt: skip
    return done.stdout


@pytest.fixture
def long_log(pyroscope: PodmanRig) -> Iterator[PodmanRig]:
    """ai-yolo26's profiler log with LINES appended, and as it was afterwards (truncated in place:
    the profiler keeps appending to the same file)."""
    before = in_container(pyroscope, f"cat {LOG}")
    in_container(pyroscope, f"cat >> {LOG}", "\n".join(LINES) + "\n")
    yield pyroscope
    in_container(pyroscope, f"cat > {LOG}", before)


def test_a_long_profiler_log_goes_into_the_thread_as_a_file_beside_an_excerpt(
    bot: BotProcess, runner: RunnerProcess, long_log: PodmanRig, slack: SlackStandIn
) -> None:
    post_command(bot.url, "diagnose overhead ai-yolo26", response_url=slack.response_url())

    [upload] = slack.wait_for_uploads(1, timeout=60)
    main, excerpt = slack.wait_for("chat.postMessage", count=2, timeout=10)[:2]
    assert "INC-PROF-002" in message_text(main.body)
    thread = main.answer["ts"]
    # The excerpt in the report's thread: the log's last lines, and where the rest is.
    assert excerpt.body["thread_ts"] == thread and block_errors(excerpt.body["blocks"]) == []
    said = message_text(excerpt.body)
    assert "ai-yolo26: /tmp/profiler.log" in said and LINES[-1].split(",")[0] in said
    assert "lines in the file below" in said
    assert "not shown" not in said
    # The file, shared in the same thread of the same channel, with its title and name.
    [complete] = slack.calls_to("files.completeUploadExternal")
    files = complete.body["files"]
    files = json.loads(files) if isinstance(files, str) else files
    assert complete.body["channel_id"] == DEFAULT_CHANNEL and complete.body["thread_ts"] == thread
    assert files[0]["title"] == "ai-yolo26: /tmp/profiler.log"
    assert upload.channel == DEFAULT_CHANNEL and upload.thread_ts == thread
    assert upload.filename.startswith("ai-yolo26-tmp-profiler.log-") and upload.filename.endswith(".txt")
    assert upload.length == len(upload.data)
    # Every line is in it, each secret redacted by the runner.
    text = upload.data.decode()
    assert SECRET not in text
    shipped = [line.replace(SECRET, "[redacted]") for line in LINES]
    assert "\n".join(shipped) in text
    assert text.count("PYROSCOPE_AUTH_TOKEN=[redacted]") == 15
