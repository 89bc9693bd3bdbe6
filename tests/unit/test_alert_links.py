"""The links on an alert thread's first message: the runbook (its ``runbook_url`` annotation) and
Alertmanager's new-silence form prefilled with the group's matchers, in Slack and in the shell."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import pytest

from bot.shell.render import text
from bot.slack.render import render
from bot.usecases.alert_model import Alert, AlertGroup, silence_filter
from bot.usecases.content import AlertThread
from tests.rig.alerting_rig import silence_matchers
from tests.rig.slack_standin import block_errors

RUNBOOK = "https://runbooks.example.com/profiling-operations-runbook.md#inc-prof-001"


def make_group(**fields: Any) -> AlertGroup:
    alert = Alert(
        status="firing",
        labels={"alertname": "PyroscopeDown", "instance": "h:4040"},
        annotations={"summary": "down", "runbook_url": RUNBOOK},
        generatorURL="http://prom:9090/graph",
    )
    values: dict[str, Any] = dict(id="g", source="alertmanager", group_key="k", status="firing", first_seen=0,
                                  last_seen=1, notifications=1, alerts={"fp": alert},
                                  group_labels={"alertname": "PyroscopeDown", "instance": "h:4040"},
                                  external_url="http://am.example:9093")  # fmt: skip
    return AlertGroup(**{**values, **fields})


@pytest.mark.parametrize(
    "labels",
    [
        {"alertname": "PyroscopeDown", "instance": "h:4040"},
        {"alertname": "X", "note": 'say "hi", then {leave}', "path": "C:\\data\\pyro"},
        {"alertname": "X", "city": "Zürich", "team": "équipe 東京", "empty": ""},
        {"alertname": "X", "trick": '"} , evil="1'},
    ],
)
def test_the_silence_link_is_prefilled_with_exactly_the_groups_labels(labels: dict[str, str]) -> None:
    url = make_group(group_labels=labels).silence_url
    assert url is not None and url.startswith("http://am.example:9093/#/silences/new?filter=")
    assert silence_matchers(url) == labels
    query = url.split("?filter=", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9%._~-]*", query), query  # every other character percent-encoded
    assert "|" not in url and ">" not in url and " " not in url


def test_the_filter_is_written_as_alertmanagers_ui_writes_it() -> None:
    assert silence_filter({"instance": "h:4040", "alertname": "PyroscopeDown"}) == (
        '{alertname="PyroscopeDown", instance="h:4040"}'
    )
    url = make_group().silence_url
    assert url == (
        "http://am.example:9093/#/silences/new?filter="
        "%7Balertname%3D%22PyroscopeDown%22%2C%20instance%3D%22h%3A4040%22%7D"
    )
    assert unquote(url.split("filter=")[1]) == '{alertname="PyroscopeDown", instance="h:4040"}'


def test_the_silence_link_falls_back_to_the_common_labels_and_to_an_empty_form() -> None:
    ungrouped = make_group(group_labels={}, common_labels={"alertname": "A", "job": "pyroscope"})
    assert silence_matchers(ungrouped.silence_url or "") == {"alertname": "A", "job": "pyroscope"}
    # A name Alertmanager cannot match on: no prefill at all rather than a broader silence.
    odd = make_group(group_labels={"alertname": "A", "bad name": "x"})
    assert odd.silence_url == "http://am.example:9093/#/silences/new"
    assert make_group(external_url="http://am.example/alertmanager/").silence_url == (
        "http://am.example/alertmanager/#/silences/new?filter=%7Balertname%3D%22PyroscopeDown%22%2C%20instance%3D%22h%3A4040%22%7D"
    )


@pytest.mark.parametrize(
    "fields",
    [{"source": "grafana"}, {"external_url": ""}, {"external_url": "javascript:alert(1)//"}],
)
def test_no_alertmanager_silence_link_without_an_alertmanager_http_url(fields: dict[str, str]) -> None:
    assert make_group(**fields).silence_url is None


def test_the_parent_links_the_runbook_and_the_prefilled_silence_form() -> None:
    message = render(AlertThread(make_group(), "INC-PROF-001"))
    blocks = message.as_kwargs()["blocks"]
    assert block_errors(blocks) == []
    links = json.dumps(blocks)
    assert f"<{RUNBOOK}|runbook>" in links
    silence = make_group().silence_url
    assert f"<{silence}|silence>" in links
    assert "<http://prom:9090/graph|source>" in links


def test_a_grafana_parent_keeps_grafanas_own_silence_link() -> None:
    alert = Alert(status="firing", labels={"alertname": "G"}, annotations={"runbook_url": RUNBOOK},
                  silenceURL="https://grafana.example/alerting/silence/new?matcher=alertname%3DG")  # fmt: skip
    group = make_group(source="grafana", alerts={"fp": alert}, external_url="https://grafana.example/")
    links = json.dumps(render(AlertThread(group, None)).as_kwargs()["blocks"])
    assert "<https://grafana.example/alerting/silence/new?matcher=alertname%3DG|silence>" in links
    assert f"<{RUNBOOK}|runbook>" in links and "#/silences/new" not in links


@pytest.mark.parametrize(
    ("runbook_url", "shown"),
    [
        ("https://x|<!channel>", "<https://x%7C%3C!channel%3E|runbook>"),
        ("https://wiki/a b>c<@U123>", "<https://wiki/a%20b%3Ec%3C@U123%3E|runbook>"),
        ("https://wiki/Runbook#Pyroscope_Down|Ö", "<https://wiki/Runbook#Pyroscope_Down%7C%C3%96|runbook>"),
    ],
)
def test_a_hostile_runbook_url_cannot_ping_or_forge_a_link(runbook_url: str, shown: str) -> None:
    alert = Alert(status="firing", labels={"alertname": "X"}, annotations={"runbook_url": runbook_url})
    group = make_group(alerts={"fp": alert}, common_annotations={})
    blocks = render(AlertThread(group, None)).as_kwargs()["blocks"]
    dumped = json.dumps(blocks, ensure_ascii=False)
    assert shown in dumped
    assert "<!channel>" not in dumped and "<@U123>" not in dumped


@pytest.mark.parametrize("runbook_url", ["javascript:alert(1)", "wiki/INC-PROF-001", "ftp://x/y", ""])
def test_only_an_http_runbook_url_becomes_a_link(runbook_url: str) -> None:
    alert = Alert(status="firing", labels={"alertname": "X"}, annotations={"runbook_url": runbook_url})
    group = make_group(alerts={"fp": alert})
    assert group.runbook_url is None
    assert "|runbook>" not in json.dumps(render(AlertThread(group, None)).as_kwargs()["blocks"])


def test_the_group_annotation_wins_over_an_alerts() -> None:
    group = make_group(common_annotations={"runbook_url": "https://runbooks.example.com/r.md#inc-prof-004"})
    assert group.runbook_url == "https://runbooks.example.com/r.md#inc-prof-004"


def test_the_shell_prints_the_runbook_and_the_silence_form() -> None:
    shown = text(AlertThread(make_group(), "INC-PROF-001"))
    assert shown.splitlines() == [
        "FIRING: PyroscopeDown · 1 of 1 alerts firing",
        f"  runbook: {RUNBOOK}",
        f"  silence: {make_group().silence_url}",
    ]
    # The sender's max_alerts left six out: the shell says so as Slack does.
    assert text(AlertThread(make_group(truncated=6), "INC-PROF-001")).splitlines()[0] == (
        "FIRING: PyroscopeDown · 1 shown of 7 firing (6 not sent: raise max_alerts)"
    )
