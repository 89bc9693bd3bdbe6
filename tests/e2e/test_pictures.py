"""Pictures end to end: the SDK-profiled `backend` stand-in pushes real stacks to the Pyroscope
stand-in over the compose network; `/prof flame backend` has the runner read them back through the
v1 render API, and the bot uploads the flamegraph into the report's thread (files_upload_v2 through
the Slack stand-in) beside the top functions and the Pyroscope link. The storage diagnosis uploads
its chart once the runner has sampled the volume twice."""

from __future__ import annotations

import re
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import ack_text, message_text
from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import BotProcess, RunnerProcess, base_env, run_profbot
from tests.rig.slack_requests import OPERATOR, button_payload, post_command, post_interaction
from tests.rig.slack_standin import DEFAULT_CHANNEL, SlackStandIn, block_errors
from tests.standins.flamebearer import parse_folded

# What an inference service's profile looks like, named as its SDK (pyroscope-rs) names Python
# frames, "file.py:LINE - function": a request handler under a web server, the model's forward pass
# hottest, JSON parsing second, and native frames without symbols on their own.
BASE = "server.py:12 - <module>;uvicorn/main.py:577 - run;app.py:42 - handle"
FORWARD = "torch/nn/modules/module.py:1511 - forward"
STACKS = f"""\
{BASE};model.py:88 - predict;{FORWARD} 620
{BASE};model.py:88 - predict;model.py:61 - preprocess 140
{BASE};json/decoder.py:337 - decode 180
{BASE} 20
[unknown] 40
"""


@pytest.fixture
def stack(pyroscope: PodmanRig) -> Iterator[PodmanRig]:
    # A Pyroscope stand-in holding nothing yet: other tests push profiles for `backend` too, and
    # these count exactly what this test pushed.
    pyroscope.podman("restart", "-t", "0", "pyroscope")
    pyroscope.wait_pyroscope_ready()
    yield pyroscope
    pyroscope.reset_stack()  # a fresh Pyroscope stand-in: the pushed profile goes with it


def push_from_backend(stack: PodmanRig, folded: str) -> None:
    """Have the `backend` service push ``folded`` to Pyroscope, as its SDK would, and wait for it."""
    pushed_before = stack.podman("logs", "backend").stdout.count("pushed a profile")  # other tests push too
    write = "cat > /tmp/stacks.tmp && mv /tmp/stacks.tmp /tmp/stacks.folded"  # whole, or not at all
    subprocess.run(["podman", "exec", "-i", "backend", "sh", "-c", write],
                   input=folded, text=True, env=stack.env, check=True, capture_output=True)  # fmt: skip
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if stack.podman("logs", "backend").stdout.count("pushed a profile") > pushed_before:
            return
        time.sleep(0.2)
    raise AssertionError(f"backend did not push its profile: {stack.podman('logs', 'backend').stdout[-500:]}")


def png_width(data: bytes) -> int:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    return int(struct.unpack(">I", data[16:20])[0])  # IHDR: width, then height


def test_flame_uploads_the_flamegraph_into_the_reports_thread_with_its_top_functions(
    bot: BotProcess, runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn
) -> None:
    push_from_backend(stack, STACKS)

    response = post_command(bot.url, "flame backend 10", response_url=slack.response_url())

    assert response.status_code == 200 and "Running FLAME" in ack_text(response)
    [upload] = slack.wait_for_uploads(1, timeout=40)
    main, summary = slack.wait_for("chat.postMessage", count=2, timeout=10)[:2]
    # 1,000 samples at 100 Hz, which v1 counts as 10 s of CPU in nanoseconds.
    assert "Flamegraph of backend, last 10 min: 10.00 s of process_cpu:cpu" in message_text(main.body)
    assert f"hottest: {FORWARD} at 62.0 % (self)" in message_text(main.body)
    # The words and the picture are in the report's thread.
    assert summary.body["thread_ts"] == main.answer["ts"] and upload.thread_ts == main.answer["ts"]
    assert upload.channel == DEFAULT_CHANNEL
    assert png_width(upload.data) >= 1200 and len(upload.data) < 1_000_000
    assert upload.length == len(upload.data) and upload.filename.startswith("flamegraph-backend-")
    assert upload.title.startswith("Flamegraph of backend")
    assert FORWARD in upload.alt_txt  # the hottest frame, named for screen readers
    # The top functions by self time, as pushed (shares of the 1,000 samples).
    table = message_text(summary.body)
    assert block_errors(summary.body["blocks"]) == []
    rows = [line for line in table.splitlines() if re.match(r" *\d+ +\d+\.\d %", line)]
    expected = sorted(((n.split(";")[-1], c) for n, c in parse_folded(STACKS).items()), key=lambda x: -x[1])
    assert [next(name for name, _ in expected if name in row) for row in rows] == [name for name, _ in expected]
    assert "62.0 %" in rows[0] and "6.20 s" in rows[0] and "18.0 %" in rows[1] and "1.80 s" in rows[1]
    # The link opens the same service and window in Pyroscope's UI, without credentials.
    [button] = [e for b in summary.body["blocks"] if b["type"] == "actions" for e in b["elements"]]
    query = parse_qs(urlsplit(button["url"]).query)
    assert query["query"] == ['process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="backend"}']
    assert int(query["until"][0]) - int(query["from"][0]) == 600
    # Slack opens the link and still tells the app about the click: acknowledged, nothing runs.
    calls_before = len(slack.calls)
    payload = button_payload({**button, "value": ""}, user=OPERATOR, response_url=slack.response_url("link"),
                             message_ts=summary.answer["ts"], thread_ts=main.answer["ts"])  # fmt: skip
    assert post_interaction(bot.url, payload).status_code == 200
    time.sleep(0.5)
    assert len(slack.calls) == calls_before


def test_flame_for_a_service_without_samples_says_so_and_draws_nothing(
    bot: BotProcess, runner: RunnerProcess, stack: PodmanRig, slack: SlackStandIn
) -> None:
    post_command(bot.url, "flame ai-yolo26", response_url=slack.response_url())

    [main] = slack.wait_for("chat.postMessage", count=1, timeout=30)
    text = message_text(main.body)
    assert "No profile from ai-yolo26 in the last 15 min: nothing to draw" in text
    assert "INC-PROF-003" in text
    labels = [e["text"]["text"] for b in main.body["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert labels == ["Diagnose no data for ai-yolo26 (read)"]
    time.sleep(1)
    assert slack.uploads == [] and slack.calls_to("files.getUploadURLExternal") == []


def test_the_storage_diagnosis_uploads_its_chart_once_the_volume_was_sampled_twice(
    bot: BotProcess, start_runner, stack: PodmanRig, slack: SlackStandIn
) -> None:
    start_runner(PROFBOT_SAMPLE_SECONDS="1")
    time.sleep(3)  # two samples of pyroscope_data at least

    post_command(bot.url, "diagnose storage", response_url=slack.response_url())

    [upload] = slack.wait_for_uploads(1, timeout=40)
    [main] = slack.calls_to("chat.postMessage")[:1]
    assert upload.thread_ts == main.answer["ts"]
    assert upload.filename.startswith("storage-pyroscope_data-") and png_width(upload.data) >= 1000
    assert "a trend is available from" in message_text(main.body)  # seconds of history, not an hour


def test_the_shell_prints_top_functions_and_a_text_flamegraph_and_saves_the_picture(
    redis_url: str, prefix: str, tmp_path: Path, runner: RunnerProcess, stack: PodmanRig
) -> None:
    push_from_backend(stack, STACKS)
    state = tmp_path / "state"
    env = base_env(REDIS_URL=redis_url, PROFBOT_REDIS_PREFIX=prefix, PROFBOT_STATE_DIR=str(state),
                   PROFBOT_OPERATORS="shell:alice")  # fmt: skip

    done = run_profbot("shell", "--user", "alice", env=env, stdin="flame backend\nflame ai-yolo26\n")

    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "Top functions of backend by self time:" in out
    assert re.search(rf"1 +62\.0 % +6\.20 s +{re.escape(FORWARD)}\n", out), out
    # The text flamegraph: the hottest path indented under its callers, with shares of all samples.
    assert re.search(rf"76\.0 % {{8}}model\.py:88 - predict\n +62\.0 % {{10}}{re.escape(FORWARD)}\n", out), out
    assert "of 10.00 s in all" in out  # 1,000 samples at 100 Hz, in CPU time
    saved = re.search(r"Flamegraph saved to (\S+\.png)", out)
    assert saved is not None, out
    picture = Path(saved.group(1))
    assert picture.parent == state / "pictures" and png_width(picture.read_bytes()) >= 1200
    assert "In Pyroscope: http://" in out
    # A service without samples: said, nothing drawn.
    assert "No profile from ai-yolo26 in the last 15 min: nothing to draw" in out
    assert len(list((state / "pictures").iterdir())) == 1
