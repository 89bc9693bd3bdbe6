"""Reading lines and writing answers: on a terminal with prompt_toolkit (line editing, history,
tab completion of subcommands and container names; output from background work printed above the
prompt), else plain lines from standard input, plain text out and no prompt."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory
from prompt_toolkit.patch_stdout import patch_stdout

from bot.usecases.commands import HELP, diagnosable
from handlers.registry import RUNBOOK

SHELL_WORDS = ["confirm", "cancel", "approve", "reject", "request", "quit"]  # beside HELP's words


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

    async def read(self, prompt: str) -> str | None:
        line = await asyncio.to_thread(self.stdin.readline)
        return line.rstrip("\n") if line else None

    def write(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)


class PromptTerminal(Terminal):
    """A person at a terminal."""

    interactive = True

    def __init__(self, history: Path, names: Callable[[], Iterable[str]]) -> None:
        history.parent.mkdir(parents=True, exist_ok=True)
        self.session: PromptSession[str] = PromptSession(
            history=FileHistory(str(history)), completer=CommandCompleter(names), complete_while_typing=False
        )

    async def read(self, prompt: str) -> str | None:
        try:
            return await self.session.prompt_async(prompt)
        except EOFError:  # Ctrl-D
            return None
        except KeyboardInterrupt:  # Ctrl-C clears the line, as in a shell
            return ""

    def write(self, text: str) -> None:
        print(text, flush=True)

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[Terminal]:
        with patch_stdout(raw=True):  # background output goes above the prompt, not through it
            yield self
