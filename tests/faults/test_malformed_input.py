"""Malformed and forged input, generated with hypothesis, against a real `profbot serve`.

Alert webhooks are built from the payload models and mutated (missing fields, wrong types, huge
strings, unicode, nested junk, naive and aware times mixed); Slack requests are slash commands,
block_actions with profbot's own action ids and values such as "; rm -rf /", view submissions and
events. Each is sent correctly authenticated (so it reaches parsing) and forged. Every answer is a
2xx or a 4xx in time (never a 5xx, never a hang), forged ones are 401, the bot stays healthy, and
nothing is executed: its host's job stream gets no change or destroy job, the audit no executing.
A change and a destroy wait for a decision meanwhile, their ids among the values tried; at the end
their requester's own confirmation does execute, which shows the check can see an execution.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import signal
import time
from collections.abc import Callable
from typing import Any

import httpx
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from profbot.approvals.model import ChangeRequest, PlannedStep, RequestState
from profbot.approvals.store import ApprovalStore
from profbot.jobs import RunnerInfo
from profbot.ops.containers import RestartContainer
from profbot.ops.contract import CATALOG, OpKind
from profbot.ops.pyroscope import PurgePyroscopeData
from profbot.redis_access import connect
from tests.e2e.conftest import HOST
from tests.e2e.test_alerts import ALERT_CHANNEL, ALERT_TOKEN, HMAC_SECRET, alert, group
from tests.faults import strategies as gen
from tests.faults.conftest import FAULTS
from tests.rig.fault_figures import Figures
from tests.rig.processes import BotProcess
from tests.rig.slack_requests import OPERATOR, SIGNING_SECRET, button_payload, post_interaction, sign
from tests.rig.slack_standin import DEFAULT_CHANNEL, SlackStandIn

ANSWER_WITHIN = 10.0  # seconds: longer is a hang
REFUSED = (401, 413)  # forged: not authenticated, or too large to be read at all
PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)  # what an HTTP header may hold


def seed_requests(redis_url: str, prefix: str) -> tuple[str, str]:
    """A change awaiting its requester's confirmation and a destroy awaiting a second person's
    approval, both requested by OPERATOR; and a runner for HOST that looks alive but takes no job,
    so whatever the bot would execute stays in HOST's job stream to be seen."""

    def request(kind: OpKind, op: Any, target: str, state: RequestState) -> ChangeRequest:
        return ChangeRequest(
            procedure="INC-PROF-001" if kind is OpKind.CHANGE else "INC-PROF-004", action=op.name, kind=kind,
            label=f"fuzzed {op.name}", host=HOST, target=target, impact="test",
            steps=[PlannedStep(op=op.name, params=op.model_dump(mode="json"), kind=kind, text=op.name)],
            requested_by=OPERATOR, channel=DEFAULT_CHANNEL, state=state, expires_at=time.time() + 3600,
        )  # fmt: skip

    async def seed() -> tuple[str, str]:
        client = connect(redis_url)
        store = ApprovalStore(client, prefix)
        change = request(OpKind.CHANGE, RestartContainer(container="pyroscope"), "pyroscope",
                         RequestState.AWAITING_CONFIRMATION)  # fmt: skip
        destroy = request(OpKind.DESTROY, PurgePyroscopeData(volume="pyroscope_data"),
                          "pyroscope_data", RequestState.AWAITING_APPROVAL)  # fmt: skip
        ids = (await store.create(change), await store.create(destroy))
        assert ids == (change.id, destroy.id)
        now = time.time()
        info = RunnerInfo(host=HOST, version="fuzz", pid=1, started_at=now, last_seen=now,
                          pyroscope_url="http://127.0.0.1:9", containers=["pyroscope", "grafana"])  # fmt: skip
        await client.hset(f"{prefix}:runners", HOST, info.model_dump_json())
        await client.set(f"{prefix}:runner:{HOST}:alive", "1", ex=1800)
        await client.aclose()
        return ids

    return asyncio.run(seed())


def executions(redis_url: str, prefix: str) -> list[str]:
    """Change and destroy jobs sent to HOST, and executing events in the audit."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    jobs: Any = client.xrange(f"{prefix}:jobs:{HOST}")
    audit: Any = client.xrange(f"{prefix}:audit")
    found = []
    for _, fields in jobs:
        job = json.loads(fields["job"])
        op = CATALOG.get(job["op"])
        if op is None or op.kind is not OpKind.READ:
            found.append(f"job {job['op']} ({job.get('approval_id')})")
    found += [f"audit {e['event']} {e.get('request_id')}" for _, e in audit if e["event"] == "executing"]
    return found


def states(redis_url: str, prefix: str, *ids: str) -> list[str]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    return [str(client.hget(f"{prefix}:change:{i}", "state")) for i in ids]


def post(url: str, body: str | bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers, timeout=ANSWER_WITHIN)


def answered(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert response.elapsed.total_seconds() < ANSWER_WITHIN


def forged_headers(draw: Callable[[st.SearchStrategy[Any]], Any], body: str) -> dict[str, str]:
    """Slack's headers as a forger can make them: another secret, a stale time, another body's
    signature, a signature without its version, or none at all."""
    how = draw(st.sampled_from(["other secret", "stale", "other body", "no version", "none", "junk"]))
    if how == "other secret":
        return sign(body, draw(st.from_regex(r"\A[a-z0-9-]{1,40}\Z").filter(lambda s: s != SIGNING_SECRET)))
    if how == "stale":
        return sign(body, timestamp=int(time.time()) - draw(st.integers(301, 10**9)))
    if how == "other body":
        return sign(body + draw(st.text(min_size=1, max_size=5)))
    if how == "no version":
        headers = sign(body)
        return {**headers, "X-Slack-Signature": headers["X-Slack-Signature"].removeprefix("v0=")}
    if how == "none":
        return {}
    return {
        "X-Slack-Request-Timestamp": draw(st.text(PRINTABLE, max_size=12).map(str.strip)) or "0",
        "X-Slack-Signature": "v0=" + draw(st.from_regex(r"\A[0-9a-f]{64}\Z")),
    }


def test_malformed_and_forged_alert_webhooks_are_refused_or_kept_and_run_nothing(
    bot_with: Callable[..., BotProcess], slack: SlackStandIn, redis_url: str, prefix: str, figures: Figures
) -> None:
    slack.channels.add(ALERT_CHANNEL)
    b = bot_with(PROFBOT_ALERT_TOKEN=ALERT_TOKEN, PROFBOT_ALERT_CHANNEL=ALERT_CHANNEL,
                 PROFBOT_GRAFANA_HMAC_SECRET=HMAC_SECRET, PROFBOT_SLACK_CHANNEL_RATE="100")  # fmt: skip
    seed_requests(redis_url, prefix)
    codes: dict[int, int] = {}

    @settings(FAULTS)
    @given(body=gen.webhook_bodies(), source=st.sampled_from(["alertmanager", "grafana"]), data=st.data())
    def authenticated(body: bytes, source: str, data: st.DataObject) -> None:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {ALERT_TOKEN}"}
        if source == "grafana":
            stamp = str(int(time.time()))
            headers["X-Grafana-Alerting-Signature-Timestamp"] = stamp
            headers["X-Grafana-Alerting-Signature"] = hmac.new(
                HMAC_SECRET.encode(), stamp.encode() + b":" + body, hashlib.sha256
            ).hexdigest()
        response = post(f"{b.url}/alerts/{source}", body, headers)
        figures.inputs_tried += 1
        codes[response.status_code] = codes.get(response.status_code, 0) + 1
        answered(response)

    @settings(FAULTS)
    @given(body=gen.webhook_bodies(), source=st.sampled_from(["alertmanager", "grafana"]), data=st.data())
    def forged(body: bytes, source: str, data: st.DataObject) -> None:
        auth = data.draw(st.one_of(
            st.none(), st.just(f"Basic {ALERT_TOKEN}"), st.just(f"Bearer {ALERT_TOKEN[:-1]}"),
            st.text(PRINTABLE, max_size=40).map(lambda s: f"Bearer {s}".strip()),
        ))  # fmt: skip
        headers = {"Content-Type": "application/json"}
        if auth is not None:
            headers["Authorization"] = auth
        elif source == "grafana":  # the token is right but the HMAC is not
            headers["Authorization"] = f"Bearer {ALERT_TOKEN}"
            headers["X-Grafana-Alerting-Signature"] = data.draw(st.from_regex(r"\A[0-9a-f]{0,64}\Z"))
        response = post(f"{b.url}/alerts/{source}", body, headers)
        figures.inputs_tried += 1
        assert response.status_code in REFUSED, (response.status_code, response.text[:300])

    ledger = f"{prefix}:alerts:ledger"
    client = redis.Redis.from_url(redis_url)
    authenticated()
    kept = int(client.xlen(ledger)) if client.exists(ledger) else 0
    forged()
    assert (int(client.xlen(ledger)) if client.exists(ledger) else 0) == kept, "a forged alert was stored"
    assert codes.get(200, 0) > 0 and sum(v for k, v in codes.items() if 400 <= k < 500) > 0, codes

    # Nothing ran, the bot is healthy, and alert threads still flow after all that.
    assert httpx.get(f"{b.url}/healthz", timeout=5).json()["status"] == "ok"
    witness = group("AfterTheFuzz", [alert("AfterTheFuzz", "w:1")])
    sent = httpx.post(f"{b.url}/alerts/alertmanager", json=witness, timeout=10,
                      headers={"Authorization": f"Bearer {ALERT_TOKEN}"})  # fmt: skip
    assert sent.status_code == 200
    deadline = time.monotonic() + 120
    while not any("FIRING: AfterTheFuzz" in json.dumps(c.body) for c in slack.calls_to("chat.postMessage")):
        assert time.monotonic() < deadline, "alert threads stalled after the malformed alerts"
        time.sleep(0.2)
    executed = executions(redis_url, prefix)
    figures.executed_by_bad_input += len(executed)
    assert executed == []


def test_malformed_and_forged_slack_requests_run_nothing(
    bot: BotProcess, slack: SlackStandIn, redis_url: str, prefix: str, figures: Figures
) -> None:
    change_id, destroy_id = seed_requests(redis_url, prefix)
    known = [change_id, destroy_id, change_id[:6], destroy_id[:1]]
    url = f"{bot.url}/slack/events"
    codes: dict[int, int] = {}

    @settings(FAULTS)
    @given(request=gen.slack_requests(gen.signed_users(), known, slack.response_url("fuzz")))
    def signed(request: tuple[str, str]) -> None:
        body, content_type = request
        response = post(url, body, {"Content-Type": content_type, **sign(body)})
        figures.inputs_tried += 1
        codes[response.status_code] = codes.get(response.status_code, 0) + 1
        answered(response)

    # Forged requests may claim to be anyone, the requester and the approver included.
    anyone = st.one_of(gen.signed_users(), st.sampled_from([OPERATOR, "U0APPROVER"]))

    @settings(FAULTS)
    @given(request=gen.slack_requests(anyone, known, slack.response_url("forged")), data=st.data())
    def forged(request: tuple[str, str], data: st.DataObject) -> None:
        body, content_type = request
        response = post(url, body, {"Content-Type": content_type, **forged_headers(data.draw, body)})
        figures.inputs_tried += 1
        assert response.status_code in REFUSED, (response.status_code, response.text[:300])

    signed()
    forged()
    assert codes.get(200, 0) > 0, codes
    assert httpx.get(f"{bot.url}/healthz", timeout=5).json()["status"] == "ok"
    time.sleep(1)  # what the last requests started in the background
    executed = executions(redis_url, prefix)
    figures.executed_by_bad_input += len(executed)
    assert executed == []
    assert states(redis_url, prefix, change_id, destroy_id) == ["awaiting_confirmation", "awaiting_approval"]
    assert not any(c.name == "forged" for c in slack.calls_to("response_url")), "a forged request was answered"

    # The check sees an execution: the requester's own confirmation sends the change's job.
    confirm = {"action_id": "change:confirm", "value": change_id}
    clicked = post_interaction(bot.url, button_payload(confirm, user=OPERATOR, response_url=slack.response_url(),
                                                       message_ts="1764000000.000100"))  # fmt: skip
    assert clicked.status_code == 200
    deadline = time.monotonic() + 15
    while not executions(redis_url, prefix):
        assert time.monotonic() < deadline, "a legitimate confirmation was not seen executing"
        time.sleep(0.1)
    assert any("container.restart" in e for e in executions(redis_url, prefix))
    bot.stop(signal.SIGKILL)  # its change waits on a runner that never answers: no drain
