"""Render time and size of the report pictures: a flamegraph of a synthetic 10,000-frame profile
(its function names in py-spy's, pyroscope-rs's, Go's, Java's, .NET's, Ruby's, C++'s and Rust's
forms, spaces, brackets and non-ASCII letters included) and the data volume's chart over 30 days
of hourly samples.

In this process, no rig: the pictures are drawn where the bot draws them, from the data a runner
returns. Each is drawn once to warm up (fonts, glyph outlines), then RUNS times; medians and p90s
quoted against the targets (under 1 s to draw, under 1 MB of PNG).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

from bench.machine import describe, percentile
from bench.table import Row, at_most
from bot.pictures import flamegraph_png, storage_chart_png
from handlers.findings import MB, StorageHistory
from handlers.profile_analysis import frames
from profbot.jobs import VolumeSample
from profbot.ops.pyroscope import CPU_PROFILE_TYPE, FlameProfile
from tests.standins.flamebearer import encode, synthetic_stacks

RUNS = 20
FRAMES = 10_000
DAYS = 30
TARGET_MS = 1000
TARGET_BYTES = 1_000_000
NOW = 1_764_090_000.0  # fixed, so every run draws the same pictures


def synthetic_profile() -> FlameProfile:
    bearer = encode(synthetic_stacks(FRAMES, seed=15))
    return FlameProfile(
        service="checkout", profile_type=CPU_PROFILE_TYPE, start=NOW - 900, end=NOW, num_ticks=bearer["numTicks"],
        max_self=bearer["maxSelf"], names=bearer["names"], levels=bearer["levels"], ui_url="http://pyroscope:4040/",
    )  # fmt: skip


def synthetic_history() -> StorageHistory:
    rng = random.Random(15)
    start = NOW - DAYS * 86400
    samples = [
        VolumeSample(at=start + hour * 3600, size_bytes=int(2048 * MB + hour / 24 * 230 * MB + rng.gauss(0, 15 * MB)))
        for hour in range(DAYS * 24 + 1)
    ]
    growth = (samples[-1].size_bytes - samples[0].size_bytes) / DAYS
    return StorageHistory(
        volume="pyroscope_data", samples=samples, capacity_bytes=20 * 1024 * MB,
        used_bytes=samples[-1].size_bytes + 1536 * MB, growth_per_day=growth,
    )  # fmt: skip


def measure(draw: Callable[[], bytes | None]) -> tuple[list[float], int]:
    draw()  # warm-up, not counted
    times: list[float] = []
    size = 0
    for _ in range(RUNS):
        started = time.perf_counter()
        png = draw()
        times.append((time.perf_counter() - started) * 1000)
        size = len(png or b"")
    return times, size


def report(name: str, short: str, times: list[float], size: int) -> list[Row]:
    """Printed, and as rows for the summary table against the targets above (p90 draw time under
    1 s, PNG under 1 MB)."""
    median, p90 = statistics.median(times), percentile(times, 90)
    verdict = "ok" if p90 < TARGET_MS and size < TARGET_BYTES else "OVER TARGET"
    print(f"{name}: median {median:.0f} ms, p90 {p90:.0f} ms, max {max(times):.0f} ms; PNG {size / 1024:.0f} KB "
          f"(targets: < {TARGET_MS} ms, < {TARGET_BYTES // 1000} KB): {verdict}")  # fmt: skip
    return [
        at_most(f"{short}: p90 draw time", p90, TARGET_MS, "ms"),
        at_most(f"{short}: PNG size", size / 1000, TARGET_BYTES / 1000, "KB"),
    ]


def main() -> list[Row]:
    profile = synthetic_profile()
    history = synthetic_history()
    print("## Report pictures")
    print(f"machine: {describe()}")
    print(f"{RUNS} renders of each after a warm-up, in one thread of this process")
    times, size = measure(lambda: flamegraph_png(profile))
    rows = report(f"flamegraph, {len(frames(profile)) - 1:,} frames named as real profilers name them",
                  f"flamegraph, {FRAMES // 1000}k frames", times, size)  # fmt: skip
    times, size = measure(lambda: storage_chart_png(history, now=NOW))
    rows += report(f"storage chart, {len(history.samples)} samples over {DAYS} days",
                   f"storage chart, {DAYS} days hourly", times, size)  # fmt: skip
    return rows


if __name__ == "__main__":
    main()
