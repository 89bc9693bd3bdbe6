"""Silences as Alertmanager's API v2 has them (api/v2/openapi.yaml: ``postableSilence``,
``gettableSilence``, ``matcher``), and what profbot keeps of the actions taken in a thread.

Matchers are always equality matchers on the group's labels, sent as JSON strings: a value with
quotes, braces or any UTF-8 stands for itself, never for a regular expression."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Matcher(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    value: str
    isRegex: bool = False
    isEqual: bool = True


class SilenceSpec(BaseModel):
    """What is posted: a new silence, or (with ``id``) a change to one."""

    id: str | None = None
    matchers: list[Matcher]
    startsAt: datetime
    endsAt: datetime
    createdBy: str
    comment: str


class Silence(BaseModel):
    """A silence read back: what Alertmanager holds now (edited or expired in its UI included)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    state: Literal["expired", "active", "pending"]
    matchers: list[Matcher]
    startsAt: datetime
    endsAt: datetime
    createdBy: str
    comment: str = ""

    @property
    def silencing(self) -> bool:
        return self.state != "expired"


class AlertMarks(BaseModel):
    """What people did in an incident's thread: the silence made from it, who took it on."""

    incident: int = 1
    silence_id: str | None = None
    silenced_by: str | None = None  # a front end's user id
    acked_by: str | None = None
    acked_at: float | None = None


def matchers_text(matchers: list[Matcher]) -> str:
    """Matchers as Alertmanager writes them: ``{a="x", b="y"}``."""
    import json

    return "{" + ", ".join(f"{m.name}={json.dumps(m.value, ensure_ascii=False)}" for m in matchers) + "}"
