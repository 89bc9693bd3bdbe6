"""Alerts become threads: the webhook intake of a real `profbot serve`, its ledger in Redis and the
threads it keeps in the Slack stand-in's alert channel."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis

from bot.usecases.alert_model import group_id
from tests.e2e.conftest import message_text
from tests.rig.alerting_rig import AlertingRig, silence_matchers
from tests.rig.podman_rig import PodmanRig
from tests.rig.processes import BotProcess, RunnerProcess
from tests.rig.redis_rig import PrivateRedis
from tests.rig.slack_standin import Call, SlackStandIn

ALERT_CHANNEL = "C0ALERTS"
ALERT_TOKEN = "alert-token-0123456789abcdef"
HMAC_SECRET = "grafana-hmac-secret"


def alert(name: str, instance: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "instance": instance, "severity": "critical", **labels},
        "annotations": {"summary": f"{name} on {instance}"},
        "startsAt": "2026-11-25T17:15:01.904Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:19090/graph?g0.expr=up",
        "fingerprint": hashlib.sha256(f"{name}{instance}".encode()).hexdigest()[:16],
    }


def group(name: str, alerts: list[dict[str, Any]], status: str = "firing", version: str = "4") -> dict[str, Any]:
    return {
        "receiver": "profbot", "status": status, "alerts": alerts, "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name, "severity": "critical"}, "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:19093", "version": version, "truncatedAlerts": 0,
        "groupKey": f'{{}}:{{alertname="{name}"}}', "notification_reason": "newer field, ignored",
    }  # fmt: skip


def send(bot: BotProcess, payload: Any, *, path: str = "alertmanager", token: str | None = ALERT_TOKEN,
         headers: dict[str, str] | None = None) -> httpx.Response:  # fmt: skip
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{bot.url}/alerts/{path}", content=body, headers=sent, timeout=30)


@pytest.fixture
def alert_bot(bot_with: Callable[..., BotProcess], slack: SlackStandIn) -> Callable[..., BotProcess]:
    """``bot_with`` set up to take alerts into ALERT_CHANNEL."""
    slack.channels.add(ALERT_CHANNEL)

    def start(**settings: str) -> BotProcess:
        return bot_with(**{"PROFBOT_ALERT_TOKEN": ALERT_TOKEN, "PROFBOT_ALERT_CHANNEL": ALERT_CHANNEL,
                           "PROFBOT_GRAFANA_HMAC_SECRET": HMAC_SECRET, "PROFBOT_SLACK_CHANNEL_RATE": "50",
                           **settings})  # fmt: skip

    return start


def stored(redis_url: str, prefix: str) -> int:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    return int(client.xlen(f"{prefix}:alerts:ledger")) if client.exists(f"{prefix}:alerts:ledger") else 0


def posts(slack: SlackStandIn, method: str = "chat.postMessage") -> list[Call]:
    return [c for c in slack.calls_to(method) if c.answer.get("ok") and c.body.get("channel") == ALERT_CHANNEL]


def wait_for_posts(
    slack: SlackStandIn, count: int, method: str = "chat.postMessage", timeout: float = 30
) -> list[Call]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = posts(slack, method)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    seen = [message_text(c.body)[:200] for c in posts(slack, method)]
    raise AssertionError(f"{count} {method} to {ALERT_CHANNEL} expected, saw {seen}")


# What Grafana's legacy dashboard alerting posts to a webhook notification channel: the fields of
# grafana/grafana pkg/services/alerting/notifiers/webhook.go (Grafana 8-10, before unified alerting):
# no version, no alerts list.
LEGACY_GRAFANA_BODY = json.dumps({
    "title": "[Alerting] Pyroscope ingest rate", "ruleId": 7, "ruleName": "Pyroscope ingest rate",
    "state": "alerting", "evalMatches": [{"value": 1.2, "metric": "rate", "tags": {"service": "checkout"}}],
    "orgId": 1, "dashboardId": 3, "panelId": 2, "tags": {"team": "platform"},
    "ruleUrl": "http://grafana:3000/d/abc/profiling?viewPanel=2", "message": "ingest dropped",
}).encode()  # fmt: skip


def grafana_signed(body: bytes, at: float | None = None) -> dict[str, str]:
    """The headers Grafana's webhook adds with the shipped hmacConfig (grafana/alerting http/hmac.go:
    the Unix seconds, then the hex HMAC-SHA256 of "seconds:body")."""
    stamp = str(int(time.time() if at is None else at))
    signature = hmac.new(HMAC_SECRET.encode(), f"{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Grafana-Alerting-Signature-Timestamp": stamp, "X-Grafana-Alerting-Signature": signature}


def test_bad_alert_requests_are_refused_with_the_reason_and_store_nothing(
    alert_bot: Callable[..., BotProcess], bot: BotProcess, redis_url: str, prefix: str
) -> None:
    b = alert_bot()
    good = group("ProfbotTest", [alert("ProfbotTest", "a:1")])
    cases = [
        (send(b, good, token=None), 401, "missing Authorization header"),
        (send(b, good, token="wrong-token-0123456789"), 401, "invalid bearer token"),
        (send(b, b"{not json", token=ALERT_TOKEN), 400, "not valid JSON"),
        # A lone surrogate escape: no UTF-8 can store it, so no retry ever would (it was a 500).
        (send(b, json.dumps(good).replace("a:1", r"a:1\ud800").encode()), 400, "not valid JSON"),
        (send(b, {**good, "groupKey": ""}), 400, "groupKey"),
        (send(b, {k: v for k, v in good.items() if k != "alerts"}), 400, "alerts: Field required"),
        (send(b, {**good, "alerts": [{"status": "burning", "labels": {}}]}), 400, "alerts.0.status"),
        (send(b, {**good, "version": "3"}), 400, "alertmanager webhooks send version '4'"),
        (send(b, good, path="grafana", headers=grafana_signed(b"another body")), 401, "invalid X-Grafana"),
        (
            send(
                b,
                LEGACY_GRAFANA_BODY,
                path="grafana",
                headers=grafana_signed(LEGACY_GRAFANA_BODY),
            ),
            400,
            "legacy Grafana alerting is not supported; use a contact point",
        ),
        (send(bot, good), 404, "alert intake is not configured"),  # a bot without PROFBOT_ALERT_TOKEN
    ]
    for response, status, reason in cases:
        assert response.status_code == status, (response.status_code, response.text[:300])
        assert reason in response.text
    assert stored(redis_url, prefix) == 0


def test_a_signed_grafana_alert_is_taken(alert_bot: Callable[..., BotProcess], redis_url: str, prefix: str) -> None:
    b = alert_bot()
    payload = {**group("GrafanaTest", [alert("GrafanaTest", "g:1")], version="1"), "orgId": 1, "state": "alerting",
               "title": "[FIRING:1] GrafanaTest", "message": "m"}  # fmt: skip
    body = json.dumps(payload).encode()
    response = send(b, body, path="grafana", headers=grafana_signed(body))
    assert response.status_code == 200, response.text
    assert stored(redis_url, prefix) == 1


def test_a_grafana_alert_signed_over_five_minutes_ago_is_refused_as_a_replay(
    alert_bot: Callable[..., BotProcess], redis_url: str, prefix: str
) -> None:
    b = alert_bot()
    body = json.dumps(group("GrafanaTest", [alert("GrafanaTest", "g:1")], version="1")).encode()
    replayed = send(b, body, path="grafana", headers=grafana_signed(body, at=time.time() - 301))
    unstamped = {"X-Grafana-Alerting-Signature": hmac.new(HMAC_SECRET.encode(), body, hashlib.sha256).hexdigest()}
    bare = send(b, body, path="grafana", headers=unstamped)
    assert replayed.status_code == 401 and "more than 5 minutes" in replayed.text, replayed.text
    assert bare.status_code == 401 and "missing X-Grafana-Alerting-Signature-Timestamp" in bare.text, bare.text
    assert stored(redis_url, prefix) == 0


def test_a_group_key_thousands_of_characters_long_is_taken_not_lost_to_a_400(
    alert_bot: Callable[..., BotProcess], slack: SlackStandIn, redis_url: str, prefix: str
) -> None:
    # Alertmanager's key is "<route path>:<group labels>" (dispatch.go, aggrGroup.GroupKey), so
    # `group_by` on a long label makes it as long as that label; a 4xx is never resent.
    b = alert_bot()
    payload = group("LongKey", [alert("LongKey", "k:1")])
    payload["groupKey"] = '{}/{severity="critical"}:{alertname="LongKey", query="' + "q" * 2500 + '"}'
    response = send(b, payload)
    assert response.status_code == 200, response.text[:300]
    assert stored(redis_url, prefix) == 1
    assert "LongKey" in message_text(wait_for_posts(slack, 1)[0].body)


def test_alerts_the_sender_left_out_are_counted_in_the_thread(
    alert_bot: Callable[..., BotProcess], slack: SlackStandIn
) -> None:
    # Alertmanager's webhook notifier cuts the list at max_alerts and says how many it cut in
    # truncatedAlerts (notify/webhook/webhook.go, truncateAlerts); Grafana's does the same.
    b = alert_bot()
    payload = group("Crowded", [alert("Crowded", f"c:{n}") for n in range(4)])
    payload["truncatedAlerts"] = 6
    assert send(b, payload).status_code == 200
    text = message_text(wait_for_posts(slack, 1)[0].body)
    assert "4 shown of 10 firing (6 not sent: raise max_alerts)" in text, text


def test_groups_of_2500_and_30000_alerts_are_taken_and_one_past_16_mib_is_answered_503_to_be_retried(
    alert_bot: Callable[..., BotProcess], redis_url: str, prefix: str
) -> None:
    # Alertmanager resends only 5xx (notify/webhook: a 4xx is final), so a body profbot will not
    # store is a 503 with Retry-After, logged and counted, never a 413 that loses it.
    b = alert_bot()
    # Alerts as a Kubernetes scrape labels them: some 530 bytes each, 1.3 MB for the group.
    crowd = [alert("Crowd", f"pod-{n}.checkout.svc:8080") for n in range(2500)]
    for n, one in enumerate(crowd):
        one["labels"] |= {"job": "kubernetes-pods", "namespace": "checkout", "pod": f"checkout-7d9f8b6c5-{n:05d}",
                          "container": "app", "service": "checkout", "team": "payments"}  # fmt: skip
    big = group("Crowd", crowd)
    body = json.dumps(big).encode()
    assert len(body) > 1024 * 1024  # past the 1 MiB Slack's requests get
    response = send(b, body)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["alerts"] == 2500 and stored(redis_url, prefix) == 2500  # the ledger: an entry an alert

    # 30,000 alerts just under 16 MiB: taken whole, however many alerts (a count limit was a 400).
    wide = group("Wide", [{**alert("Wide", f"w:{n}"), "annotations": {"summary": "y" * 250}} for n in range(30_000)])
    body = json.dumps(wide).encode()
    assert 15 * 1024 * 1024 < len(body) < 16 * 1024 * 1024, len(body)
    response = send(b, body)
    assert response.status_code == 200, response.text[:300]
    assert response.json()["alerts"] == 30_000 and stored(redis_url, prefix) == 32_500

    huge = group("Flood", [{**alert("Flood", f"h:{n}"), "annotations": {"summary": "x" * 600}} for n in range(30_000)])
    body = json.dumps(huge).encode()
    assert len(body) > 16 * 1024 * 1024
    response = send(b, body)
    assert response.status_code == 503 and response.headers["Retry-After"] == "300", response.text[:300]
    assert "not stored; set max_alerts" in response.json()["error"]
    assert stored(redis_url, prefix) == 32_500
    metrics = httpx.get(f"{b.url}/metrics", timeout=10).text
    assert 'profbot_alert_webhooks_total{outcome="too_large",source="alertmanager"} 1.0' in metrics


def test_redis_down_answers_503_so_alertmanager_retries(
    alert_bot: Callable[..., BotProcess], slack: SlackStandIn
) -> None:
    private = PrivateRedis().start()
    try:
        b = alert_bot(redis_url=private.url)
        private.stop()
        response = send(b, group("ProfbotTest", [alert("ProfbotTest", "a:1")]))
        assert response.status_code == 503
        assert "alert not stored, retry" in response.text
    finally:
        private.close()


def test_a_group_is_one_thread_updated_joined_and_resolved_in_place(
    alert_bot: Callable[..., BotProcess], slack: SlackStandIn, redis_url: str, prefix: str
) -> None:
    b = alert_bot()
    first = alert("QueueBacklog", "worker-1:9100")
    assert send(b, group("QueueBacklog", [first])).status_code == 200
    [parent] = wait_for_posts(slack, 1)
    text = message_text(parent.body)
    assert "FIRING: QueueBacklog" in text and "`instance=worker-1:9100` QueueBacklog on worker-1:9100" in text
    assert "severity `critical`" in text and "1 notifications" in text
    ts = parent.answer["ts"]

    # The same group again: the parent is updated, nothing new is posted.
    assert send(b, group("QueueBacklog", [first])).status_code == 200
    update = wait_for_posts(slack, 1, "chat.update")[-1]
    assert update.body["ts"] == ts and "2 notifications" in message_text(update.body)

    # The bot restarts; a second alert joins the group: a reply in the same thread.
    b.stop()
    b = alert_bot()
    second = alert("QueueBacklog", "worker-2:9100")
    assert send(b, group("QueueBacklog", [first, second])).status_code == 200
    replies = wait_for_posts(slack, 2)
    assert replies[-1].body["thread_ts"] == ts
    assert "1 more alert firing in this group" in message_text(replies[-1].body)
    assert "`instance=worker-2:9100`" in message_text(replies[-1].body)

    # Resolved: the parent says so and for how long; a reply too.
    resolved = group("QueueBacklog", [{**first, "status": "resolved"}, {**second, "status": "resolved"}], "resolved")
    assert send(b, resolved).status_code == 200
    done = wait_for_posts(slack, 3)[-1]
    assert done.body["thread_ts"] == ts and "Resolved: QueueBacklog, after" in message_text(done.body)
    final = posts(slack, "chat.update")[-1]
    assert "RESOLVED: QueueBacklog" in message_text(final.body) and "resolved after" in message_text(final.body)
    assert len([c for c in posts(slack) if "thread_ts" not in c.body]) == 1  # one thread, all along
    assert stored(redis_url, prefix) == 6  # every alert of every notification is in the ledger


def test_two_replicas_given_the_same_webhook_make_one_thread(
    alert_bot: Callable[..., BotProcess], slack: SlackStandIn
) -> None:
    replicas = [alert_bot(), alert_bot()]
    payload = group("DiskPressure", [alert("DiskPressure", "node-1")])
    with ThreadPoolExecutor(2) as pool:
        assert [f.result().status_code for f in [pool.submit(send, r, payload) for r in replicas]] == [200, 200]
    wait_for_posts(slack, 1)
    time.sleep(2)
    assert len(posts(slack)) == 1


def test_a_storm_of_5000_alerts_in_100_groups_makes_100_threads_within_slacks_rate(
    alert_bot: Callable[..., BotProcess], slack: SlackStandIn, redis_url: str, prefix: str
) -> None:
    slack.channel_rate_limit = 60  # per second: beyond it the stand-in answers 429 Retry-After
    b = alert_bot(PROFBOT_SLACK_CHANNEL_RATE="40")
    payloads = [group(f"Storm{g:03d}", [alert(f"Storm{g:03d}", f"host-{i}:9100") for i in range(50)])
                for g in range(100)]  # fmt: skip
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda p: send(b, p).status_code, payloads))
    assert codes == [200] * 100
    assert stored(redis_url, prefix) == 5000  # no alert missing from the ledger
    parents = wait_for_posts(slack, 100, timeout=90)
    time.sleep(1)
    parents = [c for c in posts(slack) if "thread_ts" not in c.body]
    assert len(parents) == 100
    assert len({message_text(c.body).split("\n")[0] for c in parents}) == 100
    throttled = [c for c in slack.calls if c.status == 429]
    assert len(throttled) <= 5, f"{len(throttled)} calls were throttled: the bot outran Slack's rate"


def test_slack_down_delays_the_threads_and_loses_none_of_them(
    alert_bot: Callable[..., BotProcess], slack: SlackStandIn
) -> None:
    b = alert_bot()
    slack.fail_next("chat.postMessage", status=503, times=8)  # Slack down for a few seconds
    names = ["First", "Second", "Third"]
    for name in names:
        assert send(b, group(name, [alert(name, "x:1")])).status_code == 200  # stored, whatever Slack does
    parents = wait_for_posts(slack, 3, timeout=60)
    assert [message_text(c.body).split("\n")[0] for c in parents] == [f":red_circle: FIRING: {n}" for n in names]
    assert len([c for c in slack.calls_to("chat.postMessage") if c.status == 503]) == 8


def test_alerts_answered_200_outlive_the_bot_killed_right_after(
    alert_bot: Callable[..., BotProcess], slack: SlackStandIn
) -> None:
    first = alert_bot()
    slack.fail_next("chat.postMessage", status=503, times=100_000)  # nothing reaches Slack from it
    names = [f"Killed{i:02d}" for i in range(30)]
    with ThreadPoolExecutor(10) as pool:  # at once: the intake writes them together
        codes = list(pool.map(lambda n: send(first, group(n, [alert(n, "x:1")])).status_code, names))
    assert codes == [200] * 30
    first.stop(signal.SIGKILL)

    slack.clear()  # Slack is back, for the next bot
    alert_bot()
    # A group lock the killed bot held lapses within 30 s: every thread is there within 90.
    parents = wait_for_posts(slack, 30, timeout=90)
    assert sorted(message_text(c.body).split("\n")[0] for c in parents) == [f":red_circle: FIRING: {n}" for n in names]


@pytest.fixture
def alerting(alert_bot: Callable[..., BotProcess], pyroscope: PodmanRig) -> Iterator[tuple[BotProcess, AlertingRig]]:
    b = alert_bot()
    rig = AlertingRig(scrape_target=f"127.0.0.1:{pyroscope.pyroscope_port}",
                      webhook_url=f"{b.url}/alerts/alertmanager", token=ALERT_TOKEN).start()  # fmt: skip
    yield b, rig
    print(f"---- alertmanager ----\n{rig.log('alertmanager')}\n---- prometheus ----\n{rig.log('prometheus')}")
    rig.stop()
    pyroscope.reset_stack()


def test_prometheus_and_alertmanager_open_a_diagnosed_thread_and_resolve_it(
    alerting: tuple[BotProcess, AlertingRig], runner: RunnerProcess, pyroscope: PodmanRig, slack: SlackStandIn
) -> None:
    """With deploy/alerting/'s rules and Alertmanager config (tests/rig/alerting_rig.py)."""
    _, rig = alerting
    pyroscope.podman("stop", "-t", "5", "pyroscope")  # Pyroscope stops answering
    parent = wait_for_posts(slack, 1, timeout=60)[0]
    text = message_text(parent.body)
    assert "FIRING: PyroscopeDown" in text and "Pyroscope is not answering its scrape" in text
    assert "runbook INC-PROF-001" in text
    ts = parent.answer["ts"]
    # The shipped rule's runbook_url as a link, and Alertmanager's silence form prefilled with the
    # group's labels (the shipped route groups by alertname, instance and service) ...
    assert "<https://runbooks.example.com/profiling-operations-runbook.md#inc-prof-001|runbook>" in text
    [silence] = re.findall(r"<([^|>]+)\|silence>", text)
    assert silence.startswith(f"{rig.am_url}/#/silences/new?filter=")
    matchers = silence_matchers(silence)
    assert matchers == {"alertname": "PyroscopeDown", "instance": f"127.0.0.1:{pyroscope.pyroscope_port}",
                        "service": "pyroscope"}  # fmt: skip
    # ... which select this very alert in that Alertmanager, and nothing else.
    [selected] = rig.alerts(matchers)
    assert selected["labels"]["runbook_id"] == "INC-PROF-001" and selected["labels"]["severity"] == "critical"
    # The mapped procedure's diagnosis (reads only) in the thread, with its remediation buttons.
    diagnosis = wait_until_posted(slack, lambda c: "INC-PROF-001: Pyroscope server unavailable" in message_text(c.body))
    assert diagnosis.body["thread_ts"] == ts
    assert "Pyroscope is down" in message_text(diagnosis.body)
    assert "Restart pyroscope (change)" in json.dumps(diagnosis.body["blocks"])
    assert pyroscope.inspect("pyroscope", "{{.State.Status}}") == "exited"  # an alert never changes anything

    pyroscope.podman("start", "pyroscope")
    resolved = wait_until_posted(slack, lambda c: "Resolved: PyroscopeDown" in message_text(c.body), timeout=90)
    assert resolved.body["thread_ts"] == ts
    final = [c for c in posts(slack, "chat.update") if c.body["ts"] == ts][-1]
    assert "RESOLVED: PyroscopeDown" in message_text(final.body) and "resolved after" in message_text(final.body)
    assert len([c for c in posts(slack) if "thread_ts" not in c.body]) == 1


def wait_until_posted(slack: SlackStandIn, predicate: Callable[[Call], bool], timeout: float = 60) -> Call:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in posts(slack):
            if predicate(call):
                return call
        time.sleep(0.1)
    raise AssertionError(f"no such post within {timeout}s; saw {[message_text(c.body)[:150] for c in posts(slack)]}")


def parents(slack: SlackStandIn) -> list[Call]:
    return [c for c in posts(slack) if "thread_ts" not in c.body]


def test_a_resolved_group_firing_again_is_a_new_thread_that_links_the_previous_one(
    alert_bot: Callable[..., BotProcess], slack: SlackStandIn
) -> None:
    b = alert_bot()  # no runner: the diagnosis answers that no host runs the target, in the thread
    mapped = alert("StorageAlmostFull", "node-1", runbook_id="INC-PROF-004")
    assert send(b, group("StorageAlmostFull", [mapped])).status_code == 200
    first = wait_for_posts(slack, 1)[0]
    first_ts = first.answer["ts"]
    assert "runbook INC-PROF-004" in message_text(first.body)
    diagnosis = wait_until_posted(slack, lambda c: "No heartbeating runner" in message_text(c.body))
    assert diagnosis.body["thread_ts"] == first_ts

    resolved = group("StorageAlmostFull", [{**mapped, "status": "resolved"}], "resolved")
    assert send(b, resolved).status_code == 200
    wait_until_posted(slack, lambda c: "Resolved: StorageAlmostFull" in message_text(c.body))

    # Fires again, inside the 900 s diagnosis cooldown: a new incident, in a new thread.
    assert send(b, group("StorageAlmostFull", [mapped])).status_code == 200
    second = wait_until_posted(slack, lambda c: "thread_ts" not in c.body and c.answer["ts"] != first_ts)
    second_ts, text = second.answer["ts"], message_text(second.body)
    assert "FIRING: StorageAlmostFull" in text and "incident 2 of this group" in text
    permalink = f"https://profbot-test.slack.com/archives/{ALERT_CHANNEL}/p{first_ts.replace('.', '')}"
    assert f"<{permalink}|previous incident's thread>" in text  # links the resolved thread
    assert second.body["metadata"]["event_payload"]["key"].endswith(":2")
    again = wait_until_posted(
        slack, lambda c: "No heartbeating runner" in message_text(c.body) and c.body.get("thread_ts") == second_ts
    )  # diagnosed again: the cooldown counts per incident
    assert again.answer["ok"]
    note = wait_until_posted(slack, lambda c: "Firing again: StorageAlmostFull" in message_text(c.body))
    assert note.body["thread_ts"] == first_ts  # who follows the old thread hears of the new one

    # A re-send while it fires updates the new parent in place.
    assert send(b, group("StorageAlmostFull", [mapped])).status_code == 200
    deadline = time.monotonic() + 30
    while not [c for c in posts(slack, "chat.update") if c.body["ts"] == second_ts and
               "2 notifications" in message_text(c.body)]:  # fmt: skip
        assert time.monotonic() < deadline, "the new parent was not updated"
        time.sleep(0.05)
    assert [c.answer["ts"] for c in parents(slack)] == [first_ts, second_ts]
    assert len([c for c in posts(slack) if "No heartbeating runner" in message_text(c.body)]) == 2


def test_a_parent_is_posted_once_when_redis_fails_before_its_ts_is_stored(
    alert_bot: Callable[..., BotProcess], slack: SlackStandIn, prefix: str
) -> None:
    private = PrivateRedis().start()
    try:
        admin = redis.Redis.from_url(private.url, decode_responses=True)
        b = alert_bot(redis_url=private.url)
        # Right after Slack took the parent, this Redis refuses HSET (an ACL): its ts cannot be stored.
        slack.after_next("chat.postMessage", lambda _: admin.execute_command("ACL", "SETUSER", "default", "-hset"))
        payload = group("QueueBacklog", [alert("QueueBacklog", "worker-1:9100")])
        assert send(b, payload).status_code == 200
        [parent] = wait_for_posts(slack, 1)
        gid = group_id("alertmanager", payload["groupKey"])
        key = f"{prefix}:alerts:group:{gid}"
        assert parent.body["metadata"] == {"event_type": "profbot_alert_thread", "event_payload": {"key": f"{gid}:1"}}

        # The bot tries again and looks for the parent by its key before posting it again.
        [lookup, *_] = slack.wait_for("conversations.history", timeout=30)
        assert lookup.body["channel"] == ALERT_CHANNEL and lookup.body["include_all_metadata"] in ("1", "true")
        # One read of Slack's most for a non-Marketplace app (15), of the window around the post only.
        assert lookup.body["limit"] == "15" and "cursor" not in lookup.body
        oldest, latest = float(lookup.body["oldest"]), float(lookup.body["latest"])
        assert oldest < float(parent.answer["ts"]) < latest and latest - oldest < 600
        assert admin.hget(key, "thread_ts") is None and admin.hget(key, "posting_key") == f"{gid}:1"
        admin.execute_command("ACL", "SETUSER", "default", "+hset")  # Redis takes writes again

        deadline = time.monotonic() + 60
        while admin.hget(key, "thread_ts") is None:
            assert time.monotonic() < deadline, "no parent's ts was ever stored"
            time.sleep(0.1)
        assert [c.answer["ts"] for c in parents(slack)] == [parent.answer["ts"]]  # found, not posted twice
        assert admin.hget(key, "thread_ts") == parent.answer["ts"]

        # The thread goes on in place.
        assert send(b, payload).status_code == 200
        update = wait_for_posts(slack, 1, "chat.update")[-1]
        assert update.body["ts"] == parent.answer["ts"] and "2 notifications" in message_text(update.body)
        assert len(parents(slack)) == 1
    finally:
        private.close()


def test_alerts_firing_while_a_new_incident_opens_stay_with_it(
    alert_bot: Callable[..., BotProcess], slack: SlackStandIn
) -> None:
    b = alert_bot()
    one, two = alert("QueueBacklog", "worker-1:9100"), alert("QueueBacklog", "worker-2:9100")
    assert send(b, group("QueueBacklog", [one, two])).status_code == 200
    first_ts = wait_for_posts(slack, 1)[0].answer["ts"]
    resolved = [{**a, "status": "resolved"} for a in (one, two)]
    assert send(b, group("QueueBacklog", resolved, "resolved")).status_code == 200
    wait_until_posted(slack, lambda c: "Resolved: QueueBacklog" in message_text(c.body))

    def both_fire_again(_: Call) -> None:
        assert send(b, group("QueueBacklog", [one, two])).status_code == 200

    # worker-1 fires again. While the bot opens the new incident (it has read the group and asks
    # for the old thread's link before storing the next incident), worker-2 fires again too.
    slack.after_next("chat.getPermalink", both_fire_again)
    assert send(b, group("QueueBacklog", [one])).status_code == 200
    second = wait_until_posted(slack, lambda c: "thread_ts" not in c.body and c.answer["ts"] != first_ts)
    text = message_text(second.body)
    assert "incident 2 of this group" in text and "worker-2:9100" in text
    assert "2 of 2 alerts firing" in text and "2 notifications" in text  # neither lost nor counted away
