"""What the benchmarks share: the job bus's Redis (the machine's if it answers, else one of their
own) under a prefix of their own, and reading what reached the Slack stand-in."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis

from tests.rig.redis_rig import SHARED_URL, PrivateRedis, delete_prefix, new_prefix, shared_redis_answers
from tests.rig.slack_standin import SlackStandIn


@contextlib.contextmanager
def bus_redis() -> Iterator[tuple[str, str]]:
    """A Redis URL and a fresh key prefix; the prefix's keys are deleted afterwards."""
    private = None if shared_redis_answers() else PrivateRedis().start()
    redis_url = SHARED_URL if private is None else private.url
    prefix = new_prefix()
    try:
        yield redis_url, prefix
    finally:
        delete_prefix(redis_url, prefix)
        if private is not None:
            private.close()


def alertmanager_webhook(group: str, instances: list[str], alertname: str | None = None) -> bytes:
    """An Alertmanager webhook for group ``group`` (its alertname, unless ``alertname`` is given)."""
    name = alertname or group
    alerts = [{"status": "firing", "labels": {"alertname": name, "instance": i, "severity": "critical"},
               "annotations": {"summary": f"{name} on {i}"}, "startsAt": "2026-11-25T17:15:01Z",
               "fingerprint": f"{group}-{i}"} for i in instances]  # fmt: skip
    return json.dumps({"version": "4", "status": "firing", "receiver": "profbot", "alerts": alerts,
                       "groupKey": f'{{}}:{{group="{group}"}}', "groupLabels": {"alertname": name},
                       "commonLabels": {"alertname": name}}).encode()  # fmt: skip


def posted(slack: SlackStandIn, predicate: Callable[[Any], bool]) -> list[Any]:
    """The messages Slack took (ok) that ``predicate`` picks."""
    return [c for c in slack.calls_to("chat.postMessage") if c.answer.get("ok") and predicate(c)]


def text_of(call: Any) -> str:
    return json.dumps(call.body.get("blocks") or call.body.get("text"))


def wait(condition: Callable[[], bool], timeout: float, poll: float = 0.005) -> bool:
    """Whether ``condition`` came true within ``timeout`` seconds, asked every ``poll``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll)
    return False


def inbox_drained(redis_url: str, prefix: str) -> bool:
    """Every alert inbox entry delivered to a poster and acknowledged."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    groups: Any = client.xinfo_groups(f"{prefix}:alerts:inbox")
    return bool(groups) and all(g["pending"] == 0 and g.get("lag", 0) == 0 for g in groups)
