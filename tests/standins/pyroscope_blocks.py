"""Pyroscope v1 blocks laid out as Pyroscope lays them, for the tests and the benchmark. With
``sparse``, each file its meta.json lists is there too, at its size (sparse: no disk used), so the
volume's size as profbot samples it agrees with the blocks'.

The meta.json shape is Pyroscope's own: grafana/pyroscope pkg/phlaredb/block/testdata/
01H3YE0W63FNXM69N2WVTRBYYK/meta.json (a block as the head cuts it: minTime/maxTime as epoch seconds
with milliseconds, model.Time's JSON; each file's relPath and sizeBytes; compaction level 1 and its
own ULID as source, pkg/phlaredb/head.go Flush), and for a compacted block compactMetas in
pkg/phlaredb/compact.go (level one above its parents', the parents' ranges, source "compactor").
The layout is pkg/phlaredb/head.go's: <data path>/<tenant>/local/<ULID>/ for cut blocks,
<data path>/<tenant>/head/<ULID>/ for the one being written; <tenant>/local/shipper.json beside them
(pkg/phlaredb/shipper).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MB = 2**20


def ulid_at(at: float, rng: random.Random) -> str:
    """A ULID whose time part is ``at`` (epoch seconds): 10 characters of milliseconds, 16 random."""
    ms = int(at * 1000)
    time_part = "".join(CROCKFORD[(ms >> (5 * (9 - i))) & 31] for i in range(10))
    return time_part + "".join(rng.choice(CROCKFORD) for _ in range(16))


def meta(ulid: str, min_time: float, max_time: float, size: int, *, level: int = 1,
         parents: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    """A meta.json as Pyroscope writes it, its files' sizes adding up to ``size``."""
    shares = {"index.tsdb": 0.04, "profiles.parquet": 0.36, "symbols/index.symdb": 0.001,
              "symbols/stacktraces.symdb": 0.2}  # fmt: skip
    files: list[dict[str, Any]] = []
    rest = size
    for rel, share in shares.items():
        part = int(size * share)
        files.append({"relPath": rel, "sizeBytes": part})
        rest -= part
    files.append({"relPath": "symbols/locations.parquet", "sizeBytes": rest, "parquet": {"numRowGroups": 1,
                  "numRows": 1012}})  # fmt: skip
    files.sort(key=lambda f: f["relPath"])
    document: dict[str, Any] = {
        "ulid": ulid,
        "minTime": round(min_time, 3),
        "maxTime": round(max_time, 3),
        "stats": {"numSamples": 955, "numSeries": 9, "numProfiles": 12},
        "files": files,
        "compaction": {"level": level, "sources": [ulid]},
        "version": 3,
        "labels": {},
        "downsample": {"resolution": 0},
    }
    if parents is not None:
        document["compaction"]["parents"] = parents
        document["source"] = "compactor"
    return document


def write_block(root: Path, tenant: str, document: dict[str, Any], *, sparse: bool = False) -> Path:
    block = root / tenant / "local" / document["ulid"]
    (block / "symbols").mkdir(parents=True, exist_ok=True)
    (block / "meta.json").write_text(json.dumps(document, indent="\t"))
    for entry in document["files"] if sparse else []:
        with open(block / entry["relPath"], "wb") as f:
            f.truncate(entry["sizeBytes"])
    return block


def hourly_blocks(
    root: Path, tenant: str, start: float, hours: int, size: int, seed: int = 7, *, sparse: bool = False
) -> int:
    """``hours`` blocks of ``size`` bytes, one an hour from ``start``, as the head cuts them."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    for hour in range(hours):
        low = start + hour * 3600
        write_block(root, tenant, meta(ulid_at(low + 3600, rng), low, low + 3599.999, size), sparse=sparse)
    return hours * size


def compacted_block(
    root: Path, tenant: str, start: float, end: float, size: int, seed: int = 8, *, sparse: bool = False
) -> str:
    """One block made by the compactor from two level-1 blocks that together span start to end."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    middle = (start + end) / 2
    parents = [{"ulid": ulid_at(t, rng), "minTime": a, "maxTime": b} for t, a, b in
               ((middle, start, middle), (end, middle, end))]  # fmt: skip
    ulid = ulid_at(start, rng)  # compactMetas: ulid.MustNew(minTime)
    write_block(root, tenant, meta(ulid, start, end, size, level=2, parents=parents), sparse=sparse)
    return ulid
