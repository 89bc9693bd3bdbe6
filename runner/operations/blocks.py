"""Pyroscope v1's blocks, read from its data volume's mountpoint on this host: each block's
``meta.json`` (a few KB), never its data files. Bounded: at most MAX_BLOCKS blocks (the newest),
a meta.json of at most MAX_META_BYTES, and LISTING_SECONDS in all; a block that cannot be read is
counted and named, never fatal.

The layout is Pyroscope's own (pkg/phlaredb: head.go's ``head``/``local``, ingester/retention.go's
tenant directories): ``<data path>/<tenant>/local/<ULID>/meta.json`` for cut blocks,
``<data path>/<tenant>/head/<ULID>/`` for those being written. A tenant directory is one holding a
``local`` directory, as Pyroscope's retention decides it; a directory whose name is not a ULID is
not a block (Pyroscope skips it too).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from typing import Any

from profbot.ops.blocks import (
    MAX_BLOCKS,
    MAX_BROKEN_NAMED,
    BlockInfo,
    BlockListing,
    BrokenBlock,
    ListPyroscopeBlocks,
    TenantHead,
)
from runner.host_policy import HostContext
from runner.operations.table import op

MAX_META_BYTES = 1024 * 1024  # a real meta.json is a few KB; a compacted block's lists its sources
MAX_TENANTS = 200
MAX_HEAD_FILES = 10_000
LISTING_SECONDS = 15.0
META_VERSIONS = (1, 2, 3)  # what Pyroscope itself reads (block/metadata.go); any other it refuses
ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")  # Crockford base32, 26 characters
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def _name(raw: str) -> str:
    """A directory name as it may be shown: printable, bounded (tenant ids are at most 150)."""
    return _UNPRINTABLE.sub("?", raw)[:150]


def _is_dir(path: str) -> bool:
    return os.path.isdir(path) and not os.path.islink(path)


def list_blocks(
    root: str, volume: str, *, max_blocks: int = MAX_BLOCKS, seconds: float = LISTING_SECONDS
) -> BlockListing:
    """The blocks under ``root`` (the data path), oldest first."""
    if not _is_dir(root):
        return BlockListing(volume=volume, layout="unreadable", reason="its mountpoint is not on this host")
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        return BlockListing(volume=volume, layout="unreadable", reason=f"{exc.strerror or exc}")
    tenants = [e.name for e in entries if e.is_dir(follow_symlinks=False) and _is_dir(os.path.join(e.path, "local"))]
    if not tenants:
        names = [_name(e.name) for e in entries[:10]]
        return BlockListing(volume=volume, layout="empty" if not entries else "none", top_level=names)
    deadline = time.monotonic() + seconds
    candidates: list[tuple[str, str, str]] = []  # (ulid, tenant, path)
    for tenant in tenants[:MAX_TENANTS]:
        local = os.path.join(root, tenant, "local")
        try:
            with os.scandir(local) as found:
                candidates += [
                    (e.name, tenant, e.path) for e in found if ULID.match(e.name) and e.is_dir(follow_symlinks=False)
                ]
        except OSError:
            continue
    candidates.sort(reverse=True)  # ULIDs sort by creation time: the newest first
    blocks: list[BlockInfo] = []
    broken: list[BrokenBlock] = []
    broken_count = omitted = 0
    reason = None
    for n, (ulid, tenant, path) in enumerate(candidates):
        if len(blocks) + broken_count >= max_blocks or time.monotonic() > deadline:
            omitted = len(candidates) - n
            reason = (
                f"listed the newest {max_blocks:,} blocks"
                if time.monotonic() <= deadline
                else f"stopped after {seconds:.0f} s"
            )
            break
        block, why = read_block(path, tenant, ulid)
        if block is not None:
            blocks.append(block)
            continue
        broken_count += 1
        if len(broken) < MAX_BROKEN_NAMED:
            broken.append(BrokenBlock(tenant=_name(tenant), name=ulid, reason=why))
    heads = [head for tenant in tenants[:MAX_TENANTS] if (head := head_of(root, tenant)) is not None]
    blocks.sort(key=lambda b: (b.min_time, b.ulid))
    return BlockListing(
        volume=volume, layout="v1", blocks=blocks, broken=broken, broken_count=broken_count, heads=heads,
        omitted_blocks=omitted, reason=reason,
    )  # fmt: skip


def read_block(path: str, tenant: str, ulid: str) -> tuple[BlockInfo | None, str]:
    """The block at ``path`` from its meta.json, or None and why it cannot be read."""
    meta_path = os.path.join(path, "meta.json")
    try:  # os.open/os.read: no buffered file object for a few KB read once (5,000 of them)
        fd = os.open(meta_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            raw = os.read(fd, MAX_META_BYTES + 1)
        finally:
            os.close(fd)
    except FileNotFoundError:
        if os.path.exists(meta_path + ".tmp"):
            return None, "half-written: meta.json.tmp but no meta.json"
        return None, "no meta.json (half-written, or not a block)"
    except OSError as exc:
        return None, f"meta.json not readable: {exc.strerror or exc}"
    if len(raw) > MAX_META_BYTES:
        return None, f"meta.json over {MAX_META_BYTES // 1024} KB"
    try:
        meta = json.loads(raw.decode())  # Pyroscope writes UTF-8: no encoding to detect
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"meta.json is not JSON ({str(exc)[:80]})"
    if not isinstance(meta, dict):
        return None, "meta.json is not a JSON object"
    return parse_meta(meta, tenant, ulid, path)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)  # model.Time: seconds with a fraction, as a number (or quoted)
    except ValueError:
        return None
    return number if 0 <= number < 1e11 else None


def parse_meta(meta: dict[str, Any], tenant: str, ulid: str, path: str) -> tuple[BlockInfo | None, str]:
    version = meta.get("version")
    if version not in META_VERSIONS:
        return None, f"meta.json version {str(version)[:20]} (Pyroscope reads 1 to 3)"
    low, high = _number(meta.get("minTime")), _number(meta.get("maxTime"))
    if low is None or high is None or high < low:
        return None, "meta.json has no valid minTime/maxTime"
    files = meta.get("files")
    sizes = [f.get("sizeBytes") for f in files if isinstance(f, dict)] if isinstance(files, list) else []
    size = sum(s for s in sizes if isinstance(s, int) and not isinstance(s, bool) and s > 0)
    if size == 0:
        size = measured_size(path)  # a meta.json without sizes: what is on disk
    compaction = meta.get("compaction")
    level = compaction.get("level") if isinstance(compaction, dict) else None
    return BlockInfo(
        tenant=_name(tenant), ulid=ulid, min_time=low, max_time=high, size_bytes=size,
        level=level if isinstance(level, int) and not isinstance(level, bool) else None,
    ), ""  # fmt: skip


def measured_size(path: str, limit: int = 100) -> int:
    """Bytes in a block's directory and its subdirectories (symbols/), at most ``limit`` files."""
    total = seen = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            seen += 1
            if seen > limit:
                return total
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue
    return total


def head_of(root: str, tenant: str) -> TenantHead | None:
    head = os.path.join(root, tenant, "head")
    if not _is_dir(head):
        return None
    total = seen = 0
    blocks = 0
    for directory, dirs, files in os.walk(head):
        if directory == head:
            blocks = sum(1 for d in dirs if ULID.match(d))
        for name in files:
            seen += 1
            if seen > MAX_HEAD_FILES:
                return TenantHead(tenant=_name(tenant), size_bytes=total, blocks=blocks)
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue
    return TenantHead(tenant=_name(tenant), size_bytes=total, blocks=blocks)


@op(ListPyroscopeBlocks)
async def pyroscope_blocks(host: HostContext, o: ListPyroscopeBlocks) -> BlockListing:
    volume = host.require_pyroscope_volume(o.volume)
    attrs = await host.podman.volume(volume)
    mountpoint = str(attrs.get("Mountpoint", ""))
    if not mountpoint:
        return BlockListing(volume=volume, layout="unreadable", reason="podman gave no mountpoint")
    return await asyncio.to_thread(list_blocks, mountpoint, volume)
