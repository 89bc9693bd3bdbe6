"""A session at the terminal: one line at a time, through the same use cases as Slack.

A line is a command of the shared grammar (``health``, ``diagnose unavailable``, ``/prof restart
backend``, ``approve 1a2b3c4d``), or the number of a remediation from the last report. Choosing a
change asks to confirm it at once; a destroy asks for the target's name typed exactly, then waits
for an approver who is not the requester, in Slack or in another shell.
"""

from __future__ import annotations

from typing import Protocol

import structlog

from bot.shell.people import TerminalPeople
from bot.usecases.access import allowed, gate_of
from bot.usecases.app import Profbot
from bot.usecases.commands import Asker, Help, Unparsed, parse
from bot.usecases.content import NotAllowed
from bot.usecases.reads import help_listing
from profbot.approvals.model import RequestState
from profbot.approvals.rules import Decision
from profbot.errors import ProfbotError

log = structlog.get_logger("profbot.shell")

# How long a script read from standard input waits for a change it confirmed before the next line.
SETTLE_SECONDS = 900.0


class Prompt(Protocol):
    async def __call__(self, prompt: str) -> str | None:
        """The person's answer to ``prompt``; None at the end of input."""
        ...


class ShellSession:
    def __init__(
        self, profbot: Profbot, people: TerminalPeople, asker: Asker, ask: Prompt, *, interactive: bool
    ) -> None:
        self.profbot = profbot
        self.people = people
        self.asker = asker
        self.ask = ask
        self.interactive = interactive

    @property
    def failed(self) -> bool:
        return self.people.failed

    async def handle(self, line: str) -> bool:
        """Carry out one line; False when the person wants to leave."""
        words = line.split()
        if not words:
            return True
        first = words[0].lower()
        try:
            if first in ("quit", "exit"):
                return False
            if first.isdigit():
                await self.choose(int(first))
            else:
                await self.command(line)
            await self.answer_forms()
        except ProfbotError as exc:  # Redis gone, say: the session goes on
            self.people.failed = True
            self.people.write(f"profbot could not do that: {exc}")
        if not self.interactive:
            # A script's next line sees what this one did (a confirmed change, run to its end).
            await self.profbot.tasks.drain(SETTLE_SECONDS)
        return True

    async def command(self, line: str) -> None:
        parsed = parse(line)
        if not allowed(self.asker.roles, gate_of(parsed)):
            what = f"`{parsed.word}`"
            await self.profbot.access.refused(self.asker, what)
            self.people.say(NotAllowed(self.asker.user, what))
        elif isinstance(parsed, Unparsed):
            self.people.say(parsed)
        elif isinstance(parsed, Help):
            self.people.say(help_listing())
        else:
            await self.profbot.run(self.asker, parsed)

    async def choose(self, number: int) -> None:
        if not 1 <= number <= len(self.people.choices):
            count = len(self.people.choices)
            self.people.failed = True
            self.people.write(f"No choice {number}: the last report offered {count}." if count else "No report yet.")
            return
        offer = self.people.choices[number - 1]
        request = await self.profbot.requests.remediate(self.asker, offer.id)
        if request is None or request.state is not RequestState.AWAITING_CONFIRMATION:
            return
        answer = (await self.ask(f"Confirm: run {request.label} on {request.host}? [y/n] ") or "").strip().lower()
        if answer in ("y", "yes"):
            await self.profbot.decisions.decide(self.asker, request.id, Decision.CONFIRM)
        elif answer in ("n", "no"):
            await self.profbot.decisions.decide(self.asker, request.id, Decision.CANCEL)
        else:  # no answer (end of input): it waits, as it would in Slack
            self.people.write(f"Request {request.id} waits: `confirm {request.id[:8]}` or `cancel {request.id[:8]}`.")

    async def answer_forms(self) -> None:
        while self.people.forms:
            form = self.people.forms.pop(0)
            remedy = form.remediation
            self.people.write(f"{remedy.label} on host {remedy.host}: {remedy.impact}")
            typed = await self.ask(f"Type {remedy.target} to request it (a second person must approve): ")
            answer = await self.profbot.requests.typed_name(self.asker, form.offer_id, typed or "")
            if answer is not None:
                self.people.say(answer)
            else:
                await self.profbot.tasks.drain(30)  # the request is filed in the background: show it now
                self.people.write("Waiting for an approver other than you: `approve ID` in Slack or another shell.")
