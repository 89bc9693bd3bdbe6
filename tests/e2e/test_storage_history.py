"""The storage history at the first ask, end to end: Pyroscope v1 blocks planted in the rig's
`pyroscope_data` volume as Pyroscope lays them (tests/standins/pyroscope_blocks.py: hourly blocks,
one compacted block, a half-written one, a second tenant, the head, one block past retention),
their files sparse at the sizes their meta.json lists; a runner started on it; the first
`diagnose storage` in Slack and in the shell has the daily rate from those sizes, the tenants
table, the chart, and the block past the runbook config's 15 days."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunnerFactory
from tests.e2e.conftest import message_text
from tests.e2e.test_pictures import png_width
from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import BotProcess, base_env, run_profbot
from tests.rig.slack_requests import post_command
from tests.rig.slack_standin import SlackStandIn
from tests.standins.pyroscope_blocks import MB, compacted_block, hourly_blocks, ulid_at

DAY = 86400


@pytest.fixture
def planted(pyroscope: PodmanRig) -> Iterator[Path]:
    """The blocks, in the volume `pyroscope` has mounted at /data (its data path)."""
    root = Path(pyroscope.inspect("pyroscope_data", "{{.Mountpoint}}"))
    now = time.time()
    # `anonymous`: the last 10 days at 5 MB an hour; the 5 days before compacted into one 600 MB block
    # (120 MB a day throughout). `team-b`: the last day at 1 MB an hour, and one 2 MB block 20 days ago,
    # past the runbook config's `retention-period: 15d`.
    hourly_blocks(root, "anonymous", now - 10 * DAY, 240, 5 * MB, sparse=True)
    compacted_block(root, "anonymous", now - 15 * DAY, now - 10 * DAY, 600 * MB, sparse=True)
    hourly_blocks(root, "team-b", now - DAY, 24, MB, seed=9, sparse=True)
    hourly_blocks(root, "team-b", now - 20 * DAY, 1, 2 * MB, seed=10, sparse=True)
    rng = random.Random(4)  # noqa: S311 - test data, not secrets
    half = root / "anonymous" / "local" / ulid_at(now - 60, rng)
    half.mkdir()
    (half / "meta.json.tmp").write_text('{"ulid": ')  # a flush cut short: no meta.json yet
    head = root / "anonymous" / "head" / ulid_at(now, rng)
    head.mkdir(parents=True)
    with open(head / "profiles.parquet", "wb") as f:
        f.truncate(3 * MB)
    yield root
    pyroscope.reset_stack()  # the volume goes, with what was planted


def test_the_first_storage_diagnosis_charts_the_blocks_history_with_its_rate_and_tenants(
    bot: BotProcess, start_runner: RunnerFactory, planted: Path, slack: SlackStandIn
) -> None:
    start_runner()  # after the blocks: its one sample of the volume is the blocks and the head

    post_command(bot.url, "diagnose storage", response_url=slack.response_url())

    [upload] = slack.wait_for_uploads(1, timeout=40)
    posts = slack.calls_to("chat.postMessage")
    main = posts[0]
    text = message_text(main.body)
    # (600 + 1,200 + 24 + 3 of head) MB over the last 15 days: 121.8 MB a day. The 2 MB block 20 days
    # ago is before the window.
    assert "122 MB/day over the last 15 days, from 266 blocks (1 compacted), " in text, text
    assert " to now, and 1 sample since " in text
    assert "1 block (2 MB) holds only data older than the configured retention (15d)" in text
    assert "retention is not applied, or the compactor is not running" in text
    assert "1 block directory not counted: anonymous/local/" in text and "half-written" in text
    # The chart, in the report's thread, from the first ask.
    assert upload.thread_ts == main.answer["ts"] and png_width(upload.data) >= 1000
    assert upload.filename.startswith("storage-pyroscope_data-")
    assert "from 266 blocks (1 compacted)" in upload.alt_txt and "growth 122 MB a day" in upload.alt_txt
    # The tenants, largest first, as a table in the thread.
    [table] = [p for p in posts if "by Pyroscope tenant" in message_text(p.body)]
    assert table.body["thread_ts"] == main.answer["ts"]
    rows = [line.split() for line in message_text(table.body).splitlines() if line.startswith(("anon", "team"))]
    assert [(r[0], r[1], r[5]) for r in rows] == [("anonymous", "1,803", "241"), ("team-b", "26", "25")]


def test_the_shell_prints_the_tenants_and_the_rate_from_the_blocks(
    redis_url: str, prefix: str, tmp_path: Path, start_runner: RunnerFactory, planted: Path
) -> None:
    start_runner()
    env = base_env(REDIS_URL=redis_url, PROFBOT_REDIS_PREFIX=prefix, PROFBOT_STATE_DIR=str(tmp_path / "state"),
                   PROFBOT_OPERATORS="shell:alice")  # fmt: skip

    done = run_profbot("shell", "--user", "alice", env=env, stdin="diagnose storage\n")

    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "122 MB/day over the last 15 days, from 266 blocks (1 compacted)" in out, out
    assert re.search(r"Space in pyroscope_data by Pyroscope tenant, largest first \(from 266 blocks", out), out
    assert re.search(r"anonymous +1,803 MB +98\.6 % +241 ", out), out
    assert re.search(r"team-b +26 MB +1\.4 % +25 ", out), out
    saved = re.search(r"saved to (\S+\.png)", out)
    assert saved is not None and png_width(Path(saved.group(1)).read_bytes()) >= 1000, out
