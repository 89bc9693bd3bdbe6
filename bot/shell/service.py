"""``profbot shell``: the terminal front end on the same use cases as Slack.

Who: the login name, recorded as ``shell:NAME`` (``--user NAME`` for root only, who can become
anyone anyway); ``PROFBOT_OPERATORS`` and ``PROFBOT_APPROVERS`` name terminal users as
``shell:NAME``. Exit code, for a script on standard
input: 0 when every command ran, 1 when any could not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import signal
import sys
import time
from collections.abc import Awaitable
from typing import TypeVar

import structlog

import handlers
from bot.shell.people import TerminalPeople
from bot.shell.session import ShellSession
from bot.shell.terminal import PlainTerminal, PromptTerminal, Terminal
from bot.stores.change_feed import RedisChangeFeed
from bot.stores.home import RedisHealthRecords
from bot.stores.offers import RedisOfferStore
from bot.stores.scheduled import change_sweeper
from bot.usecases.access import NoGroups
from bot.usecases.app import Ports, Profbot, Settings
from bot.usecases.commands import Asker, Place
from bot.usecases.settings import ChangePolicy
from profbot.aio import BackgroundTasks
from profbot.approvals.store import ApprovalStore
from profbot.audit import AuditLog
from profbot.bus import JobBus
from profbot.errors import ConfigError
from profbot.redis_access import Replication, connect_checked
from profbot.settings import ShellSettings

log = structlog.get_logger("profbot.shell")

NAMES_TTL_SECONDS = 10.0

T = TypeVar("T")


def login_name() -> str:
    """Who runs this process, from the system's own account (not from $USER, which anyone sets);
    ``uidN`` for an account the system has no name for (a container's ``--user 1234``)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid{os.getuid()}"


def shell_user(name: str | None = None, *, login: str | None = None, root: bool | None = None) -> str:
    """``shell:NAME`` for ``name`` (default the login name). Only root may name someone else: it
    can become them anyway, and nobody else may pass for a second person to approve their own
    destroy."""
    login = login or login_name()
    root = os.geteuid() == 0 if root is None else root
    if name is not None and name != login and not root:
        raise ConfigError(f"--user {name[:40]}: you are {login}; only root may act as another terminal user")
    wanted = (name or login).lower()
    cleaned = re.sub(r"[^a-z0-9_.-]", "_", wanted)[:32] or "user"
    return f"shell:{cleaned if cleaned[0].isalpha() or cleaned[0] == '_' else '_' + cleaned[:31]}"


def use_case_settings(settings: ShellSettings, operators: frozenset[str]) -> Settings:
    return Settings(
        operators=settings.operator_ids | operators,
        approvers=settings.approver_ids,
        job_timeout=settings.job_timeout_seconds,
        changes=ChangePolicy.of(settings),
    )


class ContainerNames:
    """Container names the runners report, for tab completion; refreshed in the background."""

    def __init__(self, bus: JobBus) -> None:
        self.bus = bus
        self.names: list[str] = []
        self._at = 0.0
        self._task: asyncio.Task[None] | None = None

    def __call__(self) -> list[str]:
        if time.monotonic() - self._at > NAMES_TTL_SECONDS and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._refresh())
        return self.names

    async def _refresh(self) -> None:
        self._at = time.monotonic()
        try:
            self.names = sorted({c for r in await self.bus.runners() for c in r.containers})
        except Exception as exc:  # completion is a convenience: never in the person's way
            log.debug("names_unread", error=str(exc))


async def _until_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """What ``work`` answers, or None if ``stop`` came first (SIGTERM to `profbot up`, say): then
    ``work`` is cancelled (what a command stored goes on: the use cases see to that)."""
    read = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({read, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not read.done():
        read.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await read
        return None
    return read.result()


async def run_shell(
    settings: ShellSettings,
    redis_url: str,
    *,
    user: str,
    operators: frozenset[str] = frozenset(),
    terminal: Terminal | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Serve one person at the terminal until end of input (or ``quit``, or ``stop``); the exit code."""
    if stop is None:  # on its own: SIGTERM ends the session in order
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    redis = await connect_checked(redis_url)
    try:
        async with JobBus(redis, settings.redis_prefix) as bus:
            names = ContainerNames(bus)
            if terminal is None:
                interactive = sys.stdin.isatty() and sys.stdout.isatty()
                history = settings.state_dir / "shell_history"
                terminal = PromptTerminal(history, names) if interactive else PlainTerminal()
            async with terminal.opened() as term:
                return await _serve(settings, bus, user, operators, term, stop, Replication.of(settings, redis_url))
    finally:
        await redis.aclose()


async def _serve(
    settings: ShellSettings,
    bus: JobBus,
    user: str,
    operators: frozenset[str],
    term: Terminal,
    stop: asyncio.Event,
    replication: Replication,
) -> int:
    prefix = settings.redis_prefix
    people = TerminalPeople(
        term.write, pictures=settings.state_dir / "pictures", evidence=settings.state_dir / "evidence"
    )
    tasks = BackgroundTasks()
    feed = RedisChangeFeed(bus.redis, prefix)
    ports = Ports(
        bus=bus,
        people=people,
        changes=ApprovalStore(bus.redis, prefix, replication, executor_lease=settings.executor_lease_seconds),
        trail=AuditLog(bus.redis, prefix),
        offers=RedisOfferStore(bus.redis, prefix),
        directory=NoGroups(),
        feed=feed,
        health=RedisHealthRecords(bus.redis, prefix),  # what Slack's App Home shows as last known health
    )
    profbot = Profbot(ports, use_case_settings(settings, operators), book=handlers.RUNBOOK, tasks=tasks)
    roles = await profbot.access.roles(user)
    asker = Asker(user=user, place=Place(channel="shell"), roles=roles)
    session = ShellSession(profbot, people, asker, term.read, interactive=term.interactive)
    if term.interactive:
        as_what = ", ".join(sorted(roles)) or "no role: help and health only"
        term.write(f"profbot shell as {user} ({as_what}). `help` lists the commands; Ctrl-D leaves.")
    sweeper = asyncio.create_task(change_sweeper(bus.redis, prefix, stop, profbot.decisions), name="expiry-sweeper")
    # A request filed here and approved in Slack (or another shell) goes on printing its progress.
    following = asyncio.create_task(feed.serve(stop, profbot.executor.refresh), name="change-feed")
    loop = asyncio.get_running_loop()
    try:
        while not stop.is_set():
            line = await _until_stopped(term.read("profbot> "), stop)
            if line is None:
                break
            command = asyncio.ensure_future(session.handle(line))
            if term.interactive:  # Ctrl-C while a command runs cancels that command, not the shell
                loop.add_signal_handler(signal.SIGINT, command.cancel)
            try:
                # SIGTERM (`profbot up` stopping) does not wait for a command's output either.
                if await _until_stopped(command, stop) is None or not command.result():
                    break
            except asyncio.CancelledError:
                if not command.cancelled():
                    raise
                term.write("(cancelled; a change already confirmed goes on: `request ID` shows it)")
            finally:
                if term.interactive:
                    loop.remove_signal_handler(signal.SIGINT)
    finally:
        await tasks.drain(60)
        stop.set()
        await asyncio.gather(sweeper, following)
    # A script's status says whether every line ran (README); at a terminal the person has read
    # every answer, and leaving is no failure (`make run` would report one as its own error).
    return 1 if session.failed and not term.interactive else 0
