"""Reading lines and writing answers: on a terminal with prompt_toolkit (line editing, history,
tab completion of subcommands and container names; output from background work printed above the
prompt), else plain lines from standard input, plain text out and no prompt."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import stat
import sys
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import TextIO

import structlog
from prompt_toolkit import PromptSession
from prompt_toolkit.application import run_in_terminal
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory
from prompt_toolkit.input import create_input
from prompt_toolkit.output import create_output
from prompt_toolkit.patch_stdout import patch_stdout

from bot.usecases.commands import HELP, diagnosable
from handlers.registry import RUNBOOK
from profbot.embedded_redis import state_dir_ready

log = structlog.get_logger("profbot.shell")

LINE_LIMIT = 1 << 20  # bytes in one line read from a pipe
SHELL_WORDS = ["confirm", "cancel", "approve", "reject", "request", "quit"]  # beside HELP's words
# Control characters from outside (a container's log line) must not drive the person's terminal:
# an escape sequence could rewrite the screen, retitle the window, or fake a prompt.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class CommandCompleter(Completer):
    """Subcommands first; then procedure names after ``diagnose``, container names elsewhere."""

    def __init__(self, names: Callable[[], Iterable[str]]) -> None:
        self.names = names
        self.words = sorted({*HELP, *SHELL_WORDS})
        self.procedures = sorted(
            {p.alias for p in diagnosable(RUNBOOK) if p.alias} | {p.id for p in diagnosable(RUNBOOK)}
        )

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        parts = document.text_before_cursor.lstrip().removeprefix("/prof ").split(" ")
        current = parts[-1]
        if len(parts) == 1:
            candidates: Iterable[str] = self.words
        elif parts[0] == "diagnose" and len(parts) == 2:
            candidates = self.procedures
        else:
            candidates = sorted(set(self.names()))
        for candidate in candidates:
            if candidate.startswith(current):
                yield Completion(candidate, start_position=-len(current))


class Terminal:
    """Where a session reads its lines and writes its answers."""

    interactive: bool

    async def read(self, prompt: str) -> str | None:
        raise NotImplementedError

    def write(self, text: str) -> None:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[Terminal]:
        yield self


class PlainTerminal(Terminal):
    """Standard input that is not a terminal: one command per line, no prompt, plain text out."""

    interactive = False

    def __init__(self, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self._reader: asyncio.StreamReader | None = None

    async def read(self, prompt: str) -> str | None:
        if self._reader is not None:
            try:
                raw = await self._reader.readline()
            except ValueError:  # longer than any command: drop it, and say so as a command would
                return "(a line over 1 MiB)"
            return raw.decode(errors="replace").rstrip("\r\n") if raw else None
        line = await asyncio.to_thread(self.stdin.readline)  # a regular file: never blocks for long
        return line.rstrip("\r\n") if line else None

    def write(self, text: str) -> None:
        print(printable(text), file=self.stdout, flush=True)

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[Terminal]:
        # A pipe is read by the event loop, so a stop (SIGTERM) does not wait on a blocked thread.
        mode = os.fstat(self.stdin.fileno()).st_mode if hasattr(self.stdin, "fileno") else 0
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            reader = self._reader = asyncio.StreamReader(limit=LINE_LIMIT)
            loop = asyncio.get_running_loop()
            transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), self.stdin)
            try:
                yield self
            finally:
                transport.close()
        else:
            yield self


class PromptTerminal(Terminal):
    """A person at a terminal."""

    interactive = True

    def __init__(
        self,
        history: Path,
        names: Callable[[], Iterable[str]],
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        state_dir_ready(history.parent)
        self.stdout = stdout or sys.stdout  # the terminal itself, not patch_stdout's proxy set up later
        self._news: set[asyncio.Future[None]] = set()  # lines being drawn above a prompt
        self.session: PromptSession[str] = PromptSession(
            history=FileHistory(str(history)),
            completer=CommandCompleter(names),
            complete_while_typing=False,
            input=create_input(stdin) if stdin else None,
            output=create_output(stdout) if stdout else None,
        )

    async def read(self, prompt: str) -> str | None:
        try:
            # Ctrl-C at a prompt is a key (the terminal is raw), so prompt_toolkit needs no SIGINT
            # handler; its own would replace, then remove, the one that cancels a running command.
            return await self.session.prompt_async(prompt, handle_sigint=False)
        except EOFError:  # Ctrl-D
            return None
        except KeyboardInterrupt:  # Ctrl-C clears the line, as in a shell
            return ""

    def write(self, text: str) -> None:
        line = printable(text) + "\n"
        if self.session.app.is_running:
            # News from background work while the person types: the prompt is erased, the line
            # written, the prompt drawn again below it.
            news = asyncio.ensure_future(run_in_terminal(functools.partial(self._emit, line), in_executor=False))
            self._news.add(news)
            news.add_done_callback(self._written)
        else:
            # An answer between prompts is on the terminal before the next prompt is drawn. Through
            # patch_stdout's proxy it was written later by its thread, racing the prompt: the prompt
            # could land above the answer and the cursor on an empty line below it. Written from the
            # event loop, as prompt_toolkit draws its prompt: a terminal that stops reading (Ctrl-S)
            # holds up the loop either way.
            self._emit(line)

    def _written(self, news: asyncio.Future[None]) -> None:
        self._news.discard(news)
        if not news.cancelled() and news.exception() is not None:  # the terminal went away (EIO)
            log.warning("shell_output_lost", error=str(news.exception()))

    def _emit(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[Terminal]:
        with patch_stdout():  # a stray print from a library goes above the prompt, not through it
            yield self
