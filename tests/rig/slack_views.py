"""The Slack stand-in's ``views.publish`` (the App Home tab), answering like Slack: the published
view back with its id and hash, ``invalid_arguments`` for a view that is not a home view, a missing
user, or blocks over Block Kit's limits (100 blocks in a Home tab); every published view recorded,
so a test reads what a person's home shows."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_HOME_BLOCKS = 100
Answer = tuple[int, dict[str, Any], dict[str, str]]


@dataclass
class PublishedHome:
    user_id: str
    view: dict[str, Any]
    at: float = field(default_factory=time.time)

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.view.get("blocks") or [])

    @property
    def text(self) -> str:
        """Everything a person reads in the tab: its blocks' texts, buttons' labels included."""
        parts: list[str] = []
        for block in self.blocks:
            if isinstance(block.get("text"), dict):
                parts.append(block["text"].get("text", ""))
            for element in block.get("elements", []):
                text = element.get("text")
                parts.append(text if isinstance(text, str) else (text or {}).get("text", ""))
        return "\n".join(parts)

    def buttons(self) -> list[dict[str, Any]]:
        return [e for b in self.blocks if b.get("type") == "actions" for e in b.get("elements", [])]


class HomeViews:
    def __init__(self, block_errors: Callable[..., list[str]]) -> None:
        self._block_errors = block_errors
        self._lock = threading.Lock()
        self.published: list[PublishedHome] = []

    def publish(self, body: dict[str, Any]) -> Answer:
        user_id = str(body.get("user_id") or "")
        view = body.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not user_id:
            problems = ["[ERROR] missing required field: user_id"]
        elif not isinstance(view, dict) or view.get("type") != "home":
            problems = ["[ERROR] view type must be home"]
        else:
            problems = self._block_errors(view.get("blocks") or [], max_blocks=MAX_HOME_BLOCKS)
        if problems or not isinstance(view, dict):
            return 200, {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": problems}}, {}
        view_id = f"V{uuid.uuid4().hex[:10].upper()}"
        with self._lock:
            self.published.append(PublishedHome(user_id, view))
        return 200, {"ok": True, "view": {**view, "id": view_id, "hash": uuid.uuid4().hex[:16]}}, {}

    def of(self, user_id: str) -> list[PublishedHome]:
        with self._lock:
            return [p for p in self.published if p.user_id == user_id]

    def wait_for(
        self, user_id: str, predicate: Callable[[PublishedHome], bool] = lambda _: True, timeout: float = 30.0
    ) -> PublishedHome:
        """The first home published for ``user_id`` that ``predicate`` accepts, once it comes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for home in self.of(user_id):
                if predicate(home):
                    return home
            time.sleep(0.05)
        seen = [h.text[:500] for h in self.of(user_id)]
        raise AssertionError(f"no matching home published for {user_id} within {timeout}s; saw {seen}")
