"""Pyroscope v1's blocks on disk: what the data volume holds, block by block, read from each
block's ``meta.json`` (its time range, its files' sizes, its compaction level) without asking
Pyroscope. The storage history is there from the first ask, before any sample of the volume.

Pyroscope v1 keeps each tenant's data under ``<data path>/<tenant>/``: blocks being written under
``head/<ULID>/``, cut blocks under ``local/<ULID>/`` with their ``meta.json`` (the tenant is
``anonymous`` without multi-tenancy). The volume is mounted at the data path.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from profbot.ops.arguments import ResourceName
from profbot.ops.contract import CATALOG, Operation, OpKind, OpResult

MAX_BLOCKS = 5000  # blocks listed at most (the newest, by ULID); more are counted, not listed
MAX_BROKEN_NAMED = 20  # broken blocks named at most; all are counted


class BlockInfo(OpResult):
    tenant: str
    ulid: str
    min_time: float  # epoch seconds, the oldest sample in the block
    max_time: float  # epoch seconds, the newest
    size_bytes: int  # the sum of its files' sizes, as its meta.json lists them
    level: int | None = None  # compaction level (1: as cut from the head; more: compacted)


class BrokenBlock(OpResult):
    tenant: str
    name: str  # the block's directory name
    reason: str  # e.g. "no meta.json (half-written)"


class TenantHead(OpResult):
    tenant: str
    size_bytes: int  # in head/: data not yet cut into a block
    blocks: int  # head blocks being written


class BlockListing(OpResult):
    volume: str
    # v1: tenant directories found; none: the volume holds no <tenant>/local/ (a v0 data directory,
    # or another data path); empty: nothing in it; unreadable: the runner could not read it (why).
    layout: Literal["v1", "none", "empty", "unreadable"]
    blocks: list[BlockInfo] = Field(default_factory=list)  # oldest first
    broken: list[BrokenBlock] = Field(default_factory=list)  # at most MAX_BROKEN_NAMED
    broken_count: int = 0
    heads: list[TenantHead] = Field(default_factory=list)
    omitted_blocks: int = 0  # blocks beyond MAX_BLOCKS (the oldest), or not reached in time
    top_level: list[str] = Field(default_factory=list)  # for "none": the first names at the volume's root
    reason: str | None = None  # for "unreadable"; or what cut the listing short


@CATALOG.register("pyroscope.blocks", OpKind.READ, timeout=30)
class ListPyroscopeBlocks(Operation[BlockListing]):
    """The blocks in the Pyroscope data volume (each block's meta.json), read from the volume's
    mountpoint on the runner's host. Only the runner's configured Pyroscope volume."""

    volume: ResourceName = "pyroscope_data"
