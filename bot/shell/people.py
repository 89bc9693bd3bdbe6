"""The People port at a terminal: everything said is printed, in order. A report's remediations
become the numbered choices of the session; a form (the destroy's typed name) waits for the
session to ask it at the prompt."""

from __future__ import annotations

import itertools
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from bot.shell.evidence import excerpt_text, is_long, save_evidence
from bot.shell.pictures import save_drawing
from bot.shell.render import FAILURES, STATE_WORDS, text
from bot.usecases.commands import Asker, Place
from bot.usecases.content import Content, DecisionRefused, DiagnosisPosted, Drawing, FlameDrawing, Form, Offer
from bot.usecases.ports import MessageRef
from handlers.findings import Evidence
from profbot.approvals.model import ChangeRequest
from profbot.approvals.rules import Refusal
from profbot.errors import ContentRefused

Write = Callable[[str], None]


def progress(request: ChangeRequest) -> str:
    """A request's message updated in place, as one line at the terminal."""
    last = request.outcomes[-1] if request.outcomes else None
    step = ""
    if last is not None:
        detail = "; ".join(last.lines) if last.ok else (last.error or "failed")
        step = f" - step {last.index + 1}/{len(request.steps)} {'done' if last.ok else 'FAILED'}: {detail}"
    tail = f" - verification: {request.verification}" if request.verification else ""
    return f"request {request.id[:12]} ({request.label}): {STATE_WORDS[request.state]}{step}{tail}"


class TerminalPeople:
    def __init__(self, write: Write, pictures: Path | None = None, evidence: Path | None = None) -> None:
        """``pictures``, ``evidence``: where drawings and long evidence are saved (under profbot's state
        dir; default a new temporary one)."""
        self.write = write
        self.pictures = pictures
        self.evidence = evidence
        self.choices: list[Offer] = []  # the last report's remediations, numbered from 1
        self.forms: list[Form] = []  # forms to ask at the prompt
        self.failed = False  # something said that a command could not run
        # Message ids unique across terminals, hosts and time (not a pid: those come round again),
        # so a request filed here and moved from Slack or another shell is shown here and only here.
        session = uuid.uuid4().hex
        self._ids = (f"{session}.{n:06d}" for n in itertools.count(1))
        self._printed: set[str] = set()

    def say(self, content: Content) -> None:
        if isinstance(content, FAILURES) and not (
            isinstance(content, DecisionRefused) and content.refusal is Refusal.ALREADY_DECIDED
        ):
            self.failed = True
        if isinstance(content, DiagnosisPosted):
            self.choices = list(content.offers)
        out = text(content)
        if out:
            self.write(out)

    def _ref(self, place: Place) -> MessageRef:
        ts = next(self._ids)
        self._printed.add(ts)
        return MessageRef(channel=place.channel, ts=ts, thread=place.thread)

    def reaches(self, message: MessageRef) -> bool:
        return message.ts in self._printed

    async def post(self, place: Place, content: Content) -> MessageRef:
        if isinstance(content, Evidence) and is_long(content):
            await self._long_evidence(content)
        else:
            self.say(content)
        return self._ref(place)

    async def update(self, message: MessageRef, content: Content) -> None:
        self.write(progress(content) if isinstance(content, ChangeRequest) else text(content))

    async def reply(self, message: MessageRef, content: Content) -> MessageRef:
        return await self.post(message.thread_place, content)

    async def _long_evidence(self, item: Evidence) -> None:
        """An excerpt printed, the whole saved to a file (its path printed)."""
        if self.evidence is None:
            self.evidence = Path(tempfile.mkdtemp(prefix="profbot-evidence-"))
        try:
            self.write(excerpt_text(item, await save_evidence(item, self.evidence)))
        except ContentRefused as exc:
            self.write(excerpt_text(item, f"not saved: {exc}"))

    async def tell(self, person: Asker, content: Content) -> None:
        self.say(content)

    async def ask(self, person: Asker, form: Form) -> None:
        self.forms.append(form)

    async def attach(self, message: MessageRef, drawing: Drawing) -> None:
        if self.pictures is None:
            self.pictures = Path(tempfile.mkdtemp(prefix="profbot-pictures-"))
        try:
            path = await save_drawing(drawing, self.pictures)
        except ContentRefused as exc:
            self.write(f"The picture was not saved: {exc}")
            return
        if path is not None:
            what = "Flamegraph" if isinstance(drawing, FlameDrawing) else "Storage chart"
            self.write(f"{what} saved to {path}")
