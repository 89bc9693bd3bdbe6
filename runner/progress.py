"""What a change has done so far, and how much of its deadline is left.

The worker opens :func:`tracking` around every change; operations append each step to
:func:`steps` as it completes. When a change fails midway (the volume removed, then ``compose
up`` failed) the error lists the steps that were done; when it times out (podman-compose killed,
podman slow to answer, the job's deadline reached) its outcome is unknown, not "failed", since
podman may have done it, and what was known done is said. Slow steps (podman-compose) take their
timeout from :func:`remaining`, so they stop inside the job's deadline, with their own message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from profbot.errors import OperationError, OperationTimeout, OutcomeUnknown
from profbot.ops.contract import OpResult

_steps: ContextVar[list[str] | None] = ContextVar("profbot_change_steps", default=None)
_deadline: ContextVar[float | None] = ContextVar("profbot_change_deadline", default=None)  # monotonic


@contextmanager
def tracking(seconds: float) -> Iterator[list[str]]:
    """Steps done by the change run inside, which has ``seconds`` left before its deadline."""
    done: list[str] = []
    steps_token = _steps.set(done)
    deadline_token = _deadline.set(time.monotonic() + seconds)
    try:
        yield done
    finally:
        _steps.reset(steps_token)
        _deadline.reset(deadline_token)


def steps() -> list[str]:
    """The list a change appends each completed step to (a list of its own outside a change)."""
    current = _steps.get()
    return current if current is not None else []


def remaining() -> float | None:
    """Seconds left before the running change's deadline; None outside a change."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def said(done: list[str]) -> str:
    return "; ".join(done) if done else "nothing yet"


async def run_change(op: str, execute: Callable[[], Awaitable[OpResult]], seconds: float) -> OpResult:
    """Run a change within ``seconds``, saying what it had done when it stopped: a timeout (the
    deadline, podman-compose killed, podman slow to answer) is an unknown outcome, since podman
    calls in worker threads cannot be recalled and podman may finish what it began; a failure
    midway lists the steps that completed."""
    with tracking(seconds) as done:
        try:
            return await asyncio.wait_for(execute(), timeout=seconds)
        except (TimeoutError, OperationTimeout) as exc:
            why = str(exc) or f"cut off after {seconds:.1f}s"
            raise OutcomeUnknown(
                f"{op}: {why} while changing things: outcome unknown (podman may have done it). "
                f"Done before that: {said(done)}. Check the target's state before trying again"
            ) from None
        except OperationError as exc:
            if not done:
                raise
            raise type(exc)(f"{exc} (done before it failed: {said(done)})") from exc
