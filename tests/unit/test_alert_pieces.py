"""Alert routing, payload parsing and the parent message, on recorded payloads."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from bot.slack.render import render
from bot.usecases.alert_model import Alert, AlertGroup, AlertNotification
from bot.usecases.content import AlertThread
from bot.webhooks.intake import GrafanaSignature, check_bearer, check_grafana_hmac
from bot.webhooks.payloads import parse_webhook
from handlers.alert_routing import procedure_for, target_for
from tests.rig.slack_standin import block_errors

# Alertmanager 0.25's body, as the reference records it.
ALERTMANAGER = {
    "receiver": "bot", "status": "firing",
    "alerts": [{"status": "firing", "labels": {"alertname": "TargetDown", "severity": "critical"},
                "annotations": {"summary": "s"}, "startsAt": "2026-11-25T17:15:01.904Z",
                "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://x", "fingerprint": "97f50f5299744521"}],
    "groupLabels": {"alertname": "TargetDown"}, "commonLabels": {}, "commonAnnotations": {},
    "externalURL": "http://127.0.0.1:19093", "version": "4",
    "groupKey": '{}:{alertname="TargetDown"}', "truncatedAlerts": 0,
}  # fmt: skip


@pytest.mark.parametrize(
    ("labels", "annotations", "table", "expected"),
    [
        ({"alertname": "X", "runbook_id": "inc-prof-004"}, {}, {}, "INC-PROF-004"),
        ({"alertname": "X"}, {"runbook_id": "INC-PROF-002"}, {}, "INC-PROF-002"),
        ({"alertname": "X"}, {"runbook_url": "https://wiki/runbook.md#inc-prof-003"}, {}, "INC-PROF-003"),
        ({"alertname": "PyroscopeDown"}, {}, {}, "INC-PROF-001"),
        ({"alertname": "MyOwnName"}, {}, {"MyOwnName": "INC-PROF-004"}, "INC-PROF-004"),
        ({"alertname": "HighLatency"}, {"runbook_url": "https://wiki/other"}, {}, None),
        ({"alertname": "X", "runbook_id": "; rm -rf /"}, {}, {}, None),
    ],
)
def test_which_procedure_an_alert_calls_for(labels: dict, annotations: dict, table: dict, expected: str | None) -> None:
    assert procedure_for(labels, annotations, table) == expected


def test_the_target_comes_from_the_service_label_first() -> None:
    assert target_for({"container": "c", "service": "backend"}) == "backend"
    assert target_for({"instance": "h:1"}) is None


def test_alertmanager_payload_parses_and_newer_fields_are_ignored() -> None:
    payload = parse_webhook("alertmanager", json.dumps({**ALERTMANAGER, "routeLabels": {"a": "b"}}).encode())
    assert isinstance(payload, AlertNotification)
    assert payload.alerts[0].identity == "97f50f5299744521"
    assert payload.alerts[0].startsAt is not None and payload.alerts[0].startsAt.tzinfo is not None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({**ALERTMANAGER, "alerts": []}).encode(), "alerts: List should have at least 1 item"),
        (json.dumps({**ALERTMANAGER, "version": "1"}).encode(), "alertmanager webhooks send version '4'"),
    ],
)
def test_payloads_that_can_never_succeed_say_why(body: bytes, reason: str) -> None:
    answer = parse_webhook("alertmanager", body)
    assert isinstance(answer, str) and reason in answer


def test_a_legacy_grafana_alert_is_told_to_use_a_contact_point_and_a_long_group_key_is_taken() -> None:
    legacy = {"title": "[Alerting] x", "ruleId": 1, "ruleName": "x", "state": "alerting", "evalMatches": []}
    answer = parse_webhook("grafana", json.dumps(legacy).encode())
    assert (
        answer
        == "legacy Grafana alerting is not supported; use a contact point (deploy/alerting/grafana-contact-point.yml)"
    )
    long_key = parse_webhook("alertmanager", json.dumps({**ALERTMANAGER, "groupKey": "{}:" + "k" * 5000}).encode())
    assert isinstance(long_key, AlertNotification) and len(long_key.group_key) == 5003


def test_bearer_and_grafana_signature_checks() -> None:
    assert check_bearer("Bearer tok-0123456789abcdef", "tok-0123456789abcdef") is None
    assert check_bearer("Basic dXNlcjpwYXNz", "tok") == "Authorization must be 'Bearer <token>'"
    body = b'{"a":1}'
    bodily, stamped_config = GrafanaSignature("s3cret", timestamp_header=""), GrafanaSignature("s3cret")
    good = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert check_grafana_hmac(good, None, body, bodily) is None
    stamped = hmac.new(b"s3cret", b"1700000000:" + body, hashlib.sha256).hexdigest()
    at = 1700000000.0
    assert check_grafana_hmac(stamped, "1700000000", body, stamped_config, now=at + 299) is None
    assert (
        check_grafana_hmac(good, "1700000000", body, stamped_config, now=at) == "invalid X-Grafana-Alerting-Signature"
    )
    assert "more than 5 minutes" in (
        check_grafana_hmac(stamped, "1700000000", body, stamped_config, now=at + 301) or ""
    )
    assert "more than 5 minutes" in (
        check_grafana_hmac(stamped, "1700000000", body, stamped_config, now=at - 301) or ""
    )
    assert "Unix seconds" in (check_grafana_hmac(stamped, "9" * 5000, body, stamped_config, now=at) or "")
    assert "missing" in (check_grafana_hmac(good, None, body, stamped_config, now=at) or "")
    renamed = GrafanaSignature("s3cret", header="X-Sig", timestamp_header="X-Sig-Time")
    assert check_grafana_hmac(None, "1", body, renamed) == "missing X-Sig header"


def test_a_parent_message_of_many_alerts_stays_within_block_kit_and_escapes_labels() -> None:
    alerts = {
        f"fp{i}": Alert(status="firing", labels={"alertname": "Big", "instance": f"<!channel> host-{i}"},
                          annotations={"summary": "x" * 3000}, generatorURL="http://x/graph")
        for i in range(400)
    }  # fmt: skip
    group = AlertGroup(id="g", source="alertmanager", group_key="k", status="firing", first_seen=0, last_seen=1,
                       notifications=3, alerts=alerts, external_url="http://am:9093")  # fmt: skip
    message = render(AlertThread(group, "INC-PROF-001"))
    blocks = message.as_kwargs()["blocks"]
    assert block_errors(blocks) == []
    text = json.dumps(blocks)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "and 390 more" in text and "runbook INC-PROF-001" in text


def test_an_overlong_annotation_is_cut_not_refused() -> None:
    alerts = [{**ALERTMANAGER["alerts"][0], "annotations": {"description": "d" * 50_000}}]  # type: ignore[index]
    payload = parse_webhook("alertmanager", json.dumps({**ALERTMANAGER, "alerts": alerts}).encode())
    assert isinstance(payload, AlertNotification)
    assert len(payload.alerts[0].annotations["description"]) == 4000


def test_audit_events_keep_the_streams_field_names() -> None:
    from profbot.audit import AuditEvent, AuditKind

    event = AuditEvent(kind=AuditKind.REQUESTED, at=1.5, actor="U1", risk="destroy", outcome="o" * 3000)
    fields = event.to_fields()
    assert fields["event"] == "requested" and fields["kind"] == "destroy" and len(fields["outcome"]) == 2000
    written_by_the_last_release = {"event": "refused", "at": "2.000", "actor": "U2", "kind": "change", "host": ""}
    read = AuditEvent.from_fields(written_by_the_last_release)
    assert (read.kind, read.risk, read.actor, read.host) == (AuditKind.REFUSED, "change", "U2", None)
