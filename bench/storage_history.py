"""The storage history from Pyroscope's blocks, at the runner's bound: 5,000 v1 blocks on disk
(their meta.json as Pyroscope writes them, tests/standins/pyroscope_blocks.py): two tenants' hourly
blocks over 167 days and one compacted block before them, listed as the runner lists them, carried as the bus
carries the answer (JSON out, JSON in), turned into the growth history and drawn as the chart.

In this process, no rig: the listing reads a directory as the runner reads the volume's mountpoint.
One warm-up (fonts; the page cache then holds the meta.json files, as it does on a Pyroscope host
that just wrote them), then RUNS timed; the p90 of the whole is quoted against the 2 s target.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.machine import describe, percentile
from bench.table import Row, at_most
from bot.pictures import storage_chart_png
from handlers.context import Outcome
from handlers.findings import StorageHistory
from handlers.storage_history import growth_history
from profbot.ops.blocks import BlockListing
from runner.operations.blocks import list_blocks
from tests.standins.pyroscope_blocks import MB, compacted_block, hourly_blocks

RUNS = 10
BLOCKS = 5000
TARGET_MS = 2000
NOW = 1_764_090_000.0


def plant(root: Path) -> None:
    """4,000 + 999 blocks as the head cuts them, an hour each, and one compacted block: 5,000."""
    for tenant, hours, size, seed in (("anonymous", 4000, 4 * MB, 1), ("team-b", 999, MB, 2)):
        hourly_blocks(root, tenant, NOW - hours * 3600, hours, size, seed=seed)
    start = NOW - 4000 * 3600
    compacted_block(root, "anonymous", start - 2 * 86400, start, 200 * MB)


def once(root: str) -> tuple[float, dict[str, float]]:
    phases: dict[str, float] = {}
    started = time.perf_counter()
    listing = list_blocks(root, "pyroscope_data")
    phases["list"] = time.perf_counter()
    carried = BlockListing.model_validate_json(listing.model_dump_json())  # the bus hop
    phases["bus"] = time.perf_counter()
    grown = growth_history(Outcome(value=carried), [], "30d", NOW)
    history = StorageHistory(volume="pyroscope_data", samples=grown.samples, capacity_bytes=20 * 1024 * MB,
                             used_bytes=grown.samples[-1].size_bytes, growth_per_day=grown.growth_per_day,
                             source=grown.source, tenants=grown.tenants)  # fmt: skip
    phases["history"] = time.perf_counter()
    assert len(carried.blocks) == BLOCKS and storage_chart_png(history, now=NOW) is not None
    phases["chart"] = time.perf_counter()
    marks = [started, *phases.values()]
    spans = {name: (marks[i + 1] - marks[i]) * 1000 for i, name in enumerate(phases)}
    return (marks[-1] - started) * 1000, spans


def main() -> list[Row]:
    print("## Storage history from Pyroscope's blocks")
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory(prefix="pb-blocks-") as directory:
        plant(Path(directory))
        once(directory)  # warm-up, not counted
        runs = [once(directory) for _ in range(RUNS)]
    totals = [total for total, _ in runs]
    median, p90 = statistics.median(totals), percentile(totals, 90)
    parts = ", ".join(f"{name} {statistics.median(s[name] for _, s in runs):.0f} ms" for name in runs[0][1])
    verdict = "ok" if p90 < TARGET_MS else "OVER TARGET"
    print(f"{BLOCKS:,} blocks listed, carried, merged and charted, {RUNS} runs: median {median:.0f} ms, "
          f"p90 {p90:.0f} ms (median phases: {parts}); target < {TARGET_MS} ms: {verdict}")  # fmt: skip
    return [at_most(f"storage history: {BLOCKS // 1000}k blocks listed and charted, p90", p90, TARGET_MS, "ms")]


if __name__ == "__main__":
    main()
