"""The one retry policy: exponential backoff with jitter (tenacity), for calls that must go
through sooner or later (a result the runner computed, a message to post) and for the loops that
serve a Redis stream.

:func:`forever` retries ``call`` while it raises one of ``on``, sleeping 0.2 s, 0.4 s, ... up to
``cap`` plus a random jitter (so replicas that lost Redis together do not come back together),
logging each retry. :func:`unless_stopped` does the same until a stop event is set, and then
answers :data:`STOPPED`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Final, TypeVar

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_never,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from profbot.aio import sleep_or_stop

log = structlog.get_logger("profbot.retry")

T = TypeVar("T")


class Stopped:
    """What a retry answers when its stop event ended it."""

    def __repr__(self) -> str:
        return "STOPPED"


STOPPED: Final = Stopped()


class _StopWhenSet(stop_base):
    def __init__(self, event: asyncio.Event) -> None:
        self.event = event

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.event.is_set()


def _logger(what: str, expected: tuple[type[BaseException], ...]) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = round(state.upcoming_sleep, 2)
        if exc is not None and not isinstance(exc, expected):
            log.error(f"{what}_failed", retry_in=wait, attempt=state.attempt_number, exc_info=exc)
        else:
            log.warning(f"{what}_retry", error=f"{type(exc).__name__}: {exc}"[:300], retry_in=wait)

    return before_sleep


def policy(
    *,
    on: tuple[type[BaseException], ...],
    what: str,
    stop: asyncio.Event | None = None,
    initial: float = 0.2,
    cap: float = 5.0,
    expected: tuple[type[BaseException], ...] | None = None,
) -> AsyncRetrying:
    """The tenacity retrying object behind :func:`forever` and :func:`unless_stopped`. ``expected``: errors logged as a
    plain warning (an outage); anything else retried is logged with its traceback (a bug)."""
    return AsyncRetrying(
        retry=retry_if_exception_type(on),
        wait=wait_exponential_jitter(multiplier=initial, max=cap, jitter=initial),
        stop=_StopWhenSet(stop) if stop is not None else stop_never,
        sleep=partial(sleep_or_stop, stop),
        before_sleep=_logger(what, expected if expected is not None else on),
        reraise=True,
    )


async def forever(
    call: Callable[[], Awaitable[T]],
    *,
    on: tuple[type[BaseException], ...],
    what: str,
    initial: float = 0.2,
    cap: float = 5.0,
) -> T:
    """``call()``'s result, once it stops raising ``on``."""
    async for attempt in policy(on=on, what=what, initial=initial, cap=cap):
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity retries forever or raises")


async def unless_stopped(
    call: Callable[[], Awaitable[T]],
    *,
    on: tuple[type[BaseException], ...],
    what: str,
    stop: asyncio.Event,
    initial: float = 0.2,
    cap: float = 5.0,
    expected: tuple[type[BaseException], ...] | None = None,
) -> T | Stopped:
    """``call()``'s result once it stops raising ``on``, or :data:`STOPPED` if ``stop`` was set first."""
    try:
        async for attempt in policy(on=on, what=what, stop=stop, initial=initial, cap=cap, expected=expected):
            if stop.is_set():  # set during the backoff: no attempt after it
                return STOPPED
            with attempt:
                return await call()
    except on:
        if stop.is_set():
            return STOPPED
        raise
    return STOPPED  # stopped before the first attempt
