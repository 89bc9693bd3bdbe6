"""The prompt_toolkit terminal on a real pseudo-terminal: an answer is on the screen before the next
prompt, and news from background work is drawn above a prompt the person is typing at."""

from __future__ import annotations

import asyncio
import os
import pty
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.shell.terminal import PromptTerminal


class Screen:
    """The person's side of a pseudo-terminal: everything profbot wrote to it, in order."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.seen = ""

    def read_now(self) -> str:
        """What has reached the terminal so far, without waiting for more."""
        while True:
            try:
                chunk = os.read(self.master, 65536).decode(errors="replace")
            except BlockingIOError:
                return self.seen
            self.seen += chunk
            for _ in range(chunk.count("\x1b[6n")):  # where is the cursor? answered as a terminal does
                os.write(self.master, b"\x1b[1;1R")

    async def until(self, text: str, after: int = 0) -> int:
        """Wait (up to 10 s) until ``text`` appears at or after offset ``after``; its offset."""
        for _ in range(1000):
            found = self.read_now().find(text, after)
            if found >= 0:
                return found
            await asyncio.sleep(0.01)
        raise AssertionError(f"{text!r} never reached the terminal; it shows {self.seen[after:]!r}")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[tuple[PromptTerminal, Screen]]:
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    keys = open(slave, encoding="utf-8")  # noqa: SIM115 - closed below
    screen = open(os.dup(slave), "w", encoding="utf-8")  # noqa: SIM115
    try:
        yield PromptTerminal(tmp_path / "history", lambda: [], stdin=keys, stdout=screen), Screen(master)
    finally:
        keys.close()
        screen.close()
        os.close(master)


async def test_an_answer_is_on_the_terminal_before_the_next_prompt_is_drawn(
    terminal: tuple[PromptTerminal, Screen],
) -> None:
    term, screen = terminal
    async with term.opened():
        term.write("Unknown command 'nonsense'; `help` lists them.")
        # Nothing else has run yet (no await): the answer must already be written, or the prompt
        # drawn next can land above it, as it did under load through patch_stdout's writer thread.
        assert "Unknown command 'nonsense'" in screen.read_now()
        reading = asyncio.create_task(term.read("profbot> "))
        answer_at = await screen.until("Unknown command")
        await screen.until("profbot>", after=answer_at)
        os.write(screen.master, b"\x04")  # Ctrl-D
        assert await reading is None


async def test_news_while_the_person_types_is_drawn_above_the_prompt(
    terminal: tuple[PromptTerminal, Screen],
) -> None:
    term, screen = terminal
    async with term.opened():
        reading = asyncio.create_task(term.read("profbot> "))
        first_prompt = await screen.until("profbot>")
        os.write(screen.master, b"heal")
        await screen.until("heal", after=first_prompt)
        term.write("Request 3f2a91c0 done: pyroscope restarted")
        news = await screen.until("Request 3f2a91c0 done", after=first_prompt)
        # the prompt, with what was typed so far, is drawn again below the news
        again = await screen.until("profbot>", after=news)
        await screen.until("heal", after=again)
        os.write(screen.master, b"th\r")
        assert await reading == "health"
