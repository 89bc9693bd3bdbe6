"""Pyroscope v1's render answers as fixtures (fixtures/*.json, large ones gzipped), rebuilt from
grafana/pyroscope's test data by rebuild.py: each carries ``source`` (repository, commit, file,
test), ``query`` (the profile type id asked for) and ``answer`` (the JSON /pyroscope/render gives)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_names() -> list[str]:
    return sorted(p.name.split(".")[0] for p in FIXTURES.glob("*.json*"))


def load(name: str) -> dict[str, Any]:
    [path] = FIXTURES.glob(f"{name}.json*")
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    fixture: dict[str, Any] = json.loads(data)
    return fixture
