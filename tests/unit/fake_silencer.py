"""An Alertmanager's silences in memory: the Silencer port as tests/contract/test_silencer_contract.py
holds it to the real client against a real Alertmanager, and the marks store beside it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from bot.usecases.silence_model import AlertMarks, Silence, SilenceSpec
from profbot.errors import RedisUnavailable, SilenceRefused, SilencerUnavailable


class FakeSilencer:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.silences: dict[str, Silence] = {}
        self.down = False  # answers nothing, as an Alertmanager that is not there
        self.posted: list[SilenceSpec] = []

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _check(self) -> None:
        if self.down:
            raise SilencerUnavailable("Alertmanager did not answer (ConnectError: connection refused)")

    async def create(self, spec: SilenceSpec) -> str:
        self._check()
        if not spec.matchers:
            raise SilenceRefused("Alertmanager answered 400: at least one matcher required", 400)
        self.posted.append(spec)
        old = self.silences.get(spec.id) if spec.id else None
        if spec.id and old is None:
            raise SilenceRefused(f"Alertmanager answered 404: silence {spec.id} not found", 404)
        keep = old is not None and old.state == "active" and old.matchers == spec.matchers
        silence_id = spec.id if keep and spec.id else str(uuid.uuid4())
        if old is not None and not keep:
            await self.expire(old.id)
        self.silences[silence_id] = Silence(
            id=silence_id, state="active", matchers=spec.matchers, startsAt=spec.startsAt, endsAt=spec.endsAt,
            createdBy=spec.createdBy, comment=spec.comment,
        )  # fmt: skip
        return silence_id

    async def get(self, silence_id: str) -> Silence | None:
        self._check()
        found = self.silences.get(silence_id)
        if found is not None and found.endsAt <= self._now():
            found = found.model_copy(update={"state": "expired"})
        return found

    async def expire(self, silence_id: str) -> None:
        self._check()
        found = self.silences.get(silence_id)
        if found is None:
            raise SilenceRefused(f"Alertmanager answered 404: silence {silence_id} not found", 404)
        self.silences[silence_id] = found.model_copy(update={"state": "expired", "endsAt": self._now()})


class FakeMarks:
    def __init__(self) -> None:
        self.kept: dict[str, AlertMarks] = {}
        self.failing = False

    async def marks(self, gid: str) -> AlertMarks | None:
        return self.kept.get(gid)

    async def put(self, gid: str, marks: AlertMarks) -> None:
        if self.failing:
            raise RedisUnavailable("Redis did not answer")
        self.kept[gid] = marks
