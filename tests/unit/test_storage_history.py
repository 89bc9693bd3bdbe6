"""The storage history from Pyroscope's own blocks: the runner's listing of a v1 data directory
(blocks, a compacted one, broken ones, the head, a v0 directory), and the growth history INC-PROF-004
and the baselines build from it on the in-memory fakes: the daily rate against the planted sizes,
the tenants largest first, blocks past retention, and the fallback to samples."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.pictures import storage_chart_png
from bot.pictures.storage_chart import _subtitle
from bot.usecases.commands import Diagnose, parse
from bot.usecases.content import StorageDrawing
from handlers.findings import Evidence, Report, StorageHistory
from handlers.storage_history import cumulative, duration_seconds
from profbot.jobs import VolumeSample
from profbot.ops.blocks import BlockInfo, ListPyroscopeBlocks
from profbot.ops.containers import DiskUsage
from profbot.ops.contract import TextOutput
from profbot.ops.pyroscope import PyroscopeConfig, RetentionSetting
from runner.operations.blocks import list_blocks
from tests.standins.pyroscope_blocks import MB, compacted_block, hourly_blocks, meta, ulid_at, write_block
from tests.unit.world import HOST, World, make_world

DAY = 86400


def v1_data(root: Path, now: float) -> None:
    """Ten days of `anonymous` at 5 MB an hour (120 MB a day), two days before them compacted into
    one 240 MB block, a day of `team-b` at 1 MB an hour; a half-written block and a broken one."""
    hourly_blocks(root, "anonymous", now - 10 * DAY, 240, 5 * MB)
    compacted_block(root, "anonymous", now - 12 * DAY, now - 10 * DAY, 240 * MB)
    hourly_blocks(root, "team-b", now - DAY, 24, 1 * MB, seed=9)
    rng = random.Random(3)  # noqa: S311 - test data, not secrets
    half = root / "anonymous" / "local" / ulid_at(now - 60, rng)
    half.mkdir()
    (half / "meta.json.tmp").write_text("{")  # the head's flush, cut short (block/metadata.go WriteToFile)
    broken = root / "anonymous" / "local" / ulid_at(now - 30, rng)
    broken.mkdir()
    (broken / "meta.json").write_text('{"ulid": "x", "minTime": ')
    (root / "anonymous" / "local" / "shipper.json").write_text('{"version": 1, "uploaded": []}')
    (root / "anonymous" / "local" / "lost+found").mkdir()  # not a ULID: not a block
    head = root / "anonymous" / "head" / ulid_at(now, rng)
    head.mkdir(parents=True)
    (head / "profiles.parquet").write_bytes(b"\0" * 3 * MB)


def test_the_runner_lists_blocks_as_pyroscope_lays_them_out(tmp_path: Path) -> None:
    now = time.time()
    v1_data(tmp_path, now)

    listing = list_blocks(str(tmp_path), "pyroscope_data")

    assert listing.layout == "v1" and len(listing.blocks) == 240 + 1 + 24
    assert [b.min_time for b in listing.blocks] == sorted(b.min_time for b in listing.blocks)
    [compacted] = [b for b in listing.blocks if b.level == 2]
    assert compacted.size_bytes == 240 * MB and compacted.max_time - compacted.min_time == 2 * DAY
    assert sum(b.size_bytes for b in listing.blocks if b.tenant == "team-b") == 24 * MB
    assert listing.broken_count == 2
    reasons = sorted(b.reason for b in listing.broken)
    assert reasons[0] == "half-written: meta.json.tmp but no meta.json"
    assert reasons[1].startswith("meta.json is not JSON")
    [head] = listing.heads
    assert (head.tenant, head.size_bytes, head.blocks) == ("anonymous", 3 * MB, 1)


def test_the_listing_keeps_the_newest_blocks_within_its_bound_and_counts_the_rest(tmp_path: Path) -> None:
    now = time.time()
    hourly_blocks(tmp_path, "anonymous", now - 10 * 3600, 10, MB)

    listing = list_blocks(str(tmp_path), "pyroscope_data", max_blocks=4)

    assert len(listing.blocks) == 4 and listing.omitted_blocks == 6
    assert min(b.min_time for b in listing.blocks) >= now - 4 * 3600 - 1
    assert listing.reason == "listed the newest 4 blocks"


def test_a_v0_directory_an_empty_one_and_a_missing_one_are_told_apart(tmp_path: Path) -> None:
    for badger in ("main", "trees", "dicts", "segments"):  # Pyroscope v0's storage
        (tmp_path / "v0" / badger).mkdir(parents=True)
    (tmp_path / "empty").mkdir()

    v0 = list_blocks(str(tmp_path / "v0"), "pyroscope_data")
    empty = list_blocks(str(tmp_path / "empty"), "pyroscope_data")
    missing = list_blocks(str(tmp_path / "nowhere"), "pyroscope_data")

    assert v0.layout == "none" and v0.top_level == ["dicts", "main", "segments", "trees"]
    assert empty.layout == "empty" and missing.layout == "unreadable"


def test_a_meta_json_of_an_unknown_version_or_without_times_is_broken_not_fatal(tmp_path: Path) -> None:
    rng = random.Random(1)  # noqa: S311 - test data, not secrets
    now = time.time()
    good = meta(ulid_at(now, rng), now - 3600, now, 2 * MB)
    write_block(tmp_path, "anonymous", good)
    write_block(tmp_path, "anonymous", {**meta(ulid_at(now - 1, rng), now - 3600, now, MB), "version": 9})
    write_block(tmp_path, "anonymous", {**meta(ulid_at(now - 2, rng), now, now - 3600, MB)})  # max before min
    write_block(tmp_path, "anonymous", {**meta(ulid_at(now - 3, rng), now, now, MB), "files": []})

    listing = list_blocks(str(tmp_path), "pyroscope_data")

    assert [b.ulid for b in listing.blocks if b.size_bytes == 2 * MB] == [good["ulid"]]
    assert listing.broken_count == 2
    assert sorted(b.reason for b in listing.broken) == [
        "meta.json has no valid minTime/maxTime",
        "meta.json version 9 (Pyroscope reads 1 to 3)",
    ]
    # A meta.json listing no sizes: what is on disk (here only meta.json itself).
    [measured] = [b for b in listing.blocks if b.size_bytes not in (2 * MB,)]
    assert 0 < measured.size_bytes < 4096


def test_a_block_spreads_its_bytes_evenly_over_its_time_range() -> None:
    wide = BlockInfo(tenant="a", ulid="A" * 26, min_time=0, max_time=4 * DAY, size_bytes=400)
    point = BlockInfo(tenant="a", ulid="B" * 26, min_time=DAY, max_time=DAY, size_bytes=50)

    assert cumulative([wide, point], [0, DAY - 1, DAY, 2 * DAY, 5 * DAY]) == pytest.approx(
        [0, 100 - 100 / DAY, 150, 250, 450]
    )
    assert duration_seconds("15d") == 15 * DAY and duration_seconds("1w2d") == 9 * DAY
    assert duration_seconds("720h") == 30 * DAY
    assert duration_seconds("0") is None and duration_seconds("soon") is None and duration_seconds(None) is None


async def diagnose(world: World, text_: str) -> Report:
    command = parse(text_)
    assert isinstance(command, Diagnose), command
    report = await world.profbot.diagnoses.diagnose(await world.asker(), command)
    assert report is not None
    return report


def world_with_blocks(tmp_path: Path, retention: str | None = None) -> World:
    world = make_world()
    world.bus.answer("pyroscope.blocks", lambda op: list_blocks(str(tmp_path), op.volume))
    if retention is not None:
        world.bus.answer("pyroscope.config", PyroscopeConfig(
            path="/srv/pyroscope/server.yml", output=TextOutput(lines=["storage:", "  backend: filesystem"]),
            retention=RetentionSetting(key="limits.compactor_blocks_retention_period", value=retention,
                                       valid_for_running_version=True, explanation="applies to blocks"),
        ))  # fmt: skip
    return world


async def test_the_first_storage_diagnosis_has_the_rate_and_chart_from_the_blocks(tmp_path: Path) -> None:
    v1_data(tmp_path, time.time())
    world = world_with_blocks(tmp_path)  # no sample of the volume yet

    report = await diagnose(world, "diagnose storage")

    [call] = world.bus.ran("pyroscope.blocks")
    assert call.operation == ListPyroscopeBlocks(volume="pyroscope_data")
    growth = next(f for f in report.findings if f.check == "growth per day")
    # 12 days: 240 MB compacted over the first two, 120 MB a day after, 24 MB of team-b, 3 MB of head:
    # (240 + 1200 + 24 + 3) MB / 12 days = 122 MB a day.
    assert growth.detail.startswith("122 MB/day over the last 12 days, from 265 blocks (1 compacted), ")
    assert growth.severity.value == "ok"
    assert "to now" in growth.detail
    storage = report.storage
    assert storage is not None and storage.growth_per_day is not None
    assert round(storage.growth_per_day / MB) == 122
    assert [(t.tenant, t.blocks, round(t.size_bytes / MB)) for t in storage.tenants] == [
        ("anonymous", 241, 1443), ("team-b", 24, 24),
    ]  # fmt: skip
    unreadable = next(f for f in report.findings if f.check == "unreadable blocks")
    assert unreadable.detail.startswith("2 block directories not counted: anonymous/local/")
    assert "half-written" in unreadable.detail
    # The words and the chart in the report's thread, from the first ask.
    [table] = world.people.of(Evidence, "reply")
    [chart] = world.people.of(StorageDrawing, "attach")
    assert chart.content == StorageDrawing(storage) and len(storage.samples) > 2
    tenants = table.content
    assert isinstance(tenants, Evidence)
    assert tenants.title.startswith("Space in pyroscope_data by Pyroscope tenant, largest first (from 265 blocks")
    lines = tenants.lines
    assert lines[0].split() == ["tenant", "size", "share", "blocks", "data", "from"]
    assert lines[1].split()[:5] == ["anonymous", "1,443", "MB", "98.4", "%"] and lines[1].split()[5] == "241"
    assert lines[2].split()[:3] == ["team-b", "24", "MB"]


async def test_the_rate_is_taken_over_the_retention_window_and_older_blocks_are_flagged(tmp_path: Path) -> None:
    now = time.time()
    hourly_blocks(tmp_path, "anonymous", now - 7 * DAY, 7 * 24, 10 * MB)  # 240 MB a day this week
    hourly_blocks(tmp_path, "anonymous", now - 30 * DAY, 24, 2 * MB, seed=11)  # a month ago: past retention
    world = world_with_blocks(tmp_path, retention="7d")

    report = await diagnose(world, "diagnose storage")

    growth = next(f for f in report.findings if f.check == "growth per day")
    assert growth.detail.startswith("240 MB/day over the last 7 days, from 192 blocks")
    assert growth.severity.value == "warning"  # above twice the runbook's ~100 MB
    old = next(f for f in report.findings if f.check == "blocks past retention")
    assert old.severity.value == "warning"
    assert old.detail.startswith("24 blocks (48 MB) hold only data older than the configured retention (7d)")
    assert "retention is not applied, or the compactor is not running" in old.detail


async def test_samples_take_over_from_their_first_one_and_the_blocks_lead_up_to_it(tmp_path: Path) -> None:
    now = time.time()
    hourly_blocks(tmp_path, "anonymous", now - 4 * DAY, 4 * 24, 5 * MB)  # 480 MB in blocks
    world = world_with_blocks(tmp_path)
    # profbot has sampled the volume for the last two hours: 500 MB (the head and Pyroscope's files too).
    samples = [VolumeSample(at=now - 7200 + 1200 * i, size_bytes=(490 + i) * MB) for i in range(7)]
    world.bus.history[(HOST, "pyroscope_data")] = samples

    report = await diagnose(world, "diagnose storage")

    storage = report.storage
    assert storage is not None and storage.samples[-7:] == samples
    lifted = storage.samples[0]
    assert (
        lifted.at == pytest.approx(now - 4 * DAY, abs=0.01) and round(lifted.size_bytes / MB) == 490 - 470
    )  # lifted by 20 MB
    growth = next(f for f in report.findings if f.check == "growth per day")
    # (496 MB now - 20 MB four days ago) / 4 days
    assert growth.detail.startswith("119 MB/day over the last 4 days, from 96 blocks, ")
    assert "and 7 samples since" in growth.detail


async def test_a_v0_data_directory_falls_back_to_samples_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "main").mkdir()
    world = world_with_blocks(tmp_path)
    now = time.time()
    world.bus.history[(HOST, "pyroscope_data")] = [
        VolumeSample(at=now - 7200 + 600 * i, size_bytes=(10 + i) * MB) for i in range(13)
    ]

    for command in ("diagnose storage", "baselines"):
        report = await diagnose(world, command)
        assert any("holds no Pyroscope v1 block" in note and "profbot's samples" in note for note in report.notes)
        assert report.storage is not None and report.storage.tenants == [] and report.storage.source is None
        assert round((report.storage.growth_per_day or 0) / MB) == 144  # 1 MB every 10 minutes
    assert world.people.of(Evidence) == []


async def test_baselines_measure_storage_growth_from_the_blocks_at_the_first_ask(tmp_path: Path) -> None:
    now = time.time()
    hourly_blocks(tmp_path, "anonymous", now - 5 * DAY, 5 * 24, 25 * MB)  # 600 MB a day
    world = world_with_blocks(tmp_path)

    report = await diagnose(world, "baselines")

    growth = next(f for f in report.findings if f.check == "storage growth per day")
    assert growth.detail.startswith("measured 600 MB over the last 5 days, from 120 blocks")
    assert growth.severity.value == "critical"  # the runbook alerts above 500 MB a day
    assert report.storage is not None and [t.tenant for t in report.storage.tenants] == ["anonymous"]
    assert json.loads(report.model_dump_json())["storage"]["tenants"][0]["blocks"] == 120


async def test_the_first_diagnosis_says_when_data_fills_at_the_blocks_rate(tmp_path: Path) -> None:
    now = time.time()
    hourly_blocks(tmp_path, "anonymous", now - 10 * DAY, 240, 10 * MB)  # 240 MB a day
    world = world_with_blocks(tmp_path)
    world.bus.answer("container.disk_usage", DiskUsage(
        container="pyroscope", path="/data", filesystem="/dev/vdb", size_bytes=8192 * MB, used_bytes=5792 * MB,
        available_bytes=2400 * MB, use_percent=70.7,
    ))  # fmt: skip

    report = await diagnose(world, "diagnose storage")

    growth = next(f for f in report.findings if f.check == "growth per day")
    full = datetime.fromtimestamp(now + 10 * DAY, UTC)
    assert growth.detail.endswith(f"; at this rate /data is full on {full:%Y-%m-%d} (in 10 days)"), growth.detail


def test_the_chart_names_the_fill_date_when_it_lies_beyond_the_trend_it_draws() -> None:
    # A day of history at 100 MB a day: the trend is drawn three days on, the 2,000 MB limit is in view,
    # and the volume fills in nine days, past the trend's end: the subtitle is where the date is told.
    now = 1_800_000_000.0
    samples = [VolumeSample(at=now - DAY, size_bytes=1000 * MB), VolumeSample(at=now, size_bytes=1100 * MB)]
    history = StorageHistory(volume="pyroscope_data", samples=samples, capacity_bytes=2000 * MB,
                             used_bytes=1100 * MB, growth_per_day=100 * MB)  # fmt: skip

    subtitle = _subtitle(history, now, True)

    assert "full 2027-01-24 08:00 UTC (in 9 days)" in subtitle, subtitle
    assert storage_chart_png(history, now=now) is not None
