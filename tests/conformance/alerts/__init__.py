"""Alert webhooks as Alertmanager and Grafana send them, rebuilt by hand from those projects'
sources and tests: each fixture (fixtures/*.json) carries ``origin`` (repository, file, test),
``sender`` (which endpoint takes it), ``notifications`` (the bodies, sent in order) and ``see``
(what the alert thread then shows a person: its header, texts it holds and must not hold, and the
reply a resolution posts). tests/e2e/test_alert_corpus.py sends them through the real intake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return fixture
