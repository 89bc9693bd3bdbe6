"""asyncio helpers both processes share: tasks that are owned and drained, one execution shared by
concurrent callers, and a sleep that a stop event cuts short."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

import structlog

log = structlog.get_logger("profbot.aio")

T = TypeVar("T")


class BackgroundTasks:
    """Work started after an answer was given (an ``ack()``, a 202), owned here so it is never
    garbage-collected mid-flight and is drained on shutdown (slack-bolt's own lazy listeners use
    a bare ``ensure_future``)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    async def run_to_end(self, coro: Coroutine[Any, Any, T], name: str) -> T:
        """``coro``'s result. A caller cancelled meanwhile (Ctrl-C at the shell, a request that
        went away) stops waiting, and ``coro`` still runs to its end, drained like the rest: what
        was stored is never left half done (a request running with no executor, no audit line)."""
        task: asyncio.Task[T] = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return await asyncio.shield(task)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background_task_failed", task=task.get_name(), exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float) -> None:
        if not self._tasks:
            return
        log.info("draining_tasks", count=len(self._tasks))
        _, pending = await asyncio.wait(self._tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=1.0)


class SingleFlight(Generic[T]):
    """Concurrent calls with the same key share one execution and its result.

    Ten people asking for health during an incident start one health check per host, not ten:
    the runner and podman are spared, and everyone gets the same, equally fresh answer.
    """

    def __init__(self) -> None:
        self._inflight: dict[Hashable, asyncio.Future[T]] = {}

    async def run(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(call())
            self._inflight[key] = future
            future.add_done_callback(lambda _: self._inflight.pop(key, None))
        # shield: one requester giving up must not cancel the check the others wait for
        return await asyncio.shield(future)


async def sleep_or_stop(stop: asyncio.Event | None, seconds: float) -> None:
    """Wait ``seconds``, or less if ``stop`` is set meanwhile."""
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
