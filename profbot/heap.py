"""Handing freed heap back to the system after a large piece of work.

glibc keeps what a ``free`` leaves in the middle of its heap until ``malloc_trim`` is called: a
15 MiB alert group of 30,000 alerts peaks near 200 MB while parsed, and without a trim serve
stays at that peak long after the objects are gone (bench/large_alert_group.py). The trim runs a
moment later, once the request or read that caused it has let go of its objects."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util


def _malloc_trim() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not glibc: its allocator keeps what it keeps
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)


def give_back_soon(delay: float = 0.5) -> None:
    """Trim the heap ``delay`` seconds from now, on the running event loop."""
    asyncio.get_running_loop().call_later(delay, _malloc_trim)
