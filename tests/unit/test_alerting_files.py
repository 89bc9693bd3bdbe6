"""deploy/alerting/, as shipped: the rules route to profbot's procedures, Prometheus' and
Alertmanager's own checkers accept the files, the rules fire on the series they are written for
(``promtool test rules``), and the receivers speak what profbot's intake checks."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from handlers import RUNBOOK
from handlers.alert_routing import DEFAULT_ALERT_PROCEDURES, procedure_for
from profbot.settings import ServeSettings

ALERTING = Path(__file__).resolve().parents[2] / "deploy" / "alerting"


def load(name: str) -> Any:
    return YAML(typ="safe").load((ALERTING / name).read_text())


def rules() -> list[dict[str, Any]]:
    return [rule for group in load("profbot.rules.yml")["groups"] for rule in group["rules"]]


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (Debian: prometheus / prometheus-alertmanager)")
    return found


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ALERTING, capture_output=True, text=True, timeout=120)


def test_the_rules_cover_the_runbooks_incidents() -> None:
    ids = {rule["labels"]["runbook_id"] for rule in rules()}
    assert ids == {"INC-PROF-001", "INC-PROF-002", "INC-PROF-003", "INC-PROF-004"}


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
def test_every_rule_routes_to_a_procedure_profbot_runs_for_alerts(rule: dict[str, Any]) -> None:
    labels = {"alertname": rule["alert"], **rule["labels"]}
    found = procedure_for(labels, rule["annotations"])
    procedure = RUNBOOK.get(found or "")
    assert procedure is not None and procedure.alias is not None, (rule["alert"], found)  # alias: alerts map
    assert found == rule["labels"]["runbook_id"]
    # The runbook_url ends in the same id, and the alertname (if the built-in table has it) agrees.
    assert procedure_for({}, {"runbook_url": rule["annotations"]["runbook_url"]}) == found
    assert rule["annotations"]["runbook_url"].startswith("https://")
    assert DEFAULT_ALERT_PROCEDURES.get(rule["alert"], found) == found
    # A procedure that needs a service gets one: a `service` label set, or made by the expression.
    if procedure.needs_argument:
        assert re.search(r'label_replace\([\s\S]*"service"', rule["expr"]), rule["expr"]
    else:
        assert rule["labels"].get("service") == procedure.default_argument


def test_promtool_checks_the_rules_and_the_prometheus_config() -> None:
    promtool = tool("promtool")
    checked = run(promtool, "check", "rules", "profbot.rules.yml")
    assert checked.returncode == 0 and "SUCCESS: 5 rules found" in checked.stdout, checked.stdout + checked.stderr
    config = run(promtool, "check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr
    jobs = {job["job_name"] for job in load("prometheus.yml")["scrape_configs"]}
    used = {job for rule in rules() for job in re.findall(r'job="([^"]+)"', rule["expr"])}
    assert used == jobs  # every job a rule selects on is scraped


def test_the_rules_fire_on_their_series_with_the_labels_profbot_needs() -> None:
    tested = run(tool("promtool"), "test", "rules", "profbot.rules.test.yml")
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def test_amtool_checks_the_alertmanager_config() -> None:
    checked = run(tool("amtool"), "check-config", "alertmanager.yml")
    assert checked.returncode == 0 and "SUCCESS" in checked.stdout, checked.stdout + checked.stderr
    assert "1 receivers" in checked.stdout


def test_alertmanager_sends_every_group_and_its_resolution_to_profbot_with_a_token_file() -> None:
    config = load("alertmanager.yml")
    [receiver] = [r for r in config["receivers"] if r["name"] == config["route"]["receiver"]]
    [webhook] = receiver["webhook_configs"]
    assert webhook["url"].endswith("/alerts/alertmanager")
    assert webhook["send_resolved"] is True
    # A bounded notification: 500 alerts of a few KB each stay far under the 16 MiB profbot stores.
    assert 0 < webhook["max_alerts"] <= 500
    authorization = webhook["http_config"]["authorization"]
    assert authorization["type"] == "Bearer"
    assert "credentials" not in authorization and authorization["credentials_file"].startswith("/")
    # Threads per alert, host and service: the matchers a silence link is prefilled with.
    assert config["route"]["group_by"] == ["alertname", "instance", "service"]


def test_the_grafana_contact_point_signs_with_the_headers_profbot_checks() -> None:
    [point] = load("grafana-contact-point.yml")["contactPoints"]
    [receiver] = point["receivers"]
    settings = receiver["settings"]
    assert receiver["type"] == "webhook" and receiver["disableResolveMessage"] is False
    assert settings["url"].endswith("/alerts/grafana") and settings["httpMethod"] == "POST"
    assert settings["authorization_scheme"] == "Bearer"
    assert settings["authorization_credentials"] == "${PROFBOT_ALERT_TOKEN}"  # from Grafana's environment
    hmac = settings["hmacConfig"]
    assert hmac["secret"] == "${PROFBOT_GRAFANA_HMAC_SECRET}"
    # The headers profbot reads by default are those the shipped contact point makes Grafana send.
    fields = ServeSettings.model_fields
    assert hmac["header"] == fields["grafana_hmac_header"].default
    assert hmac["timestampHeader"] == fields["grafana_hmac_timestamp_header"].default


def test_the_exporter_and_pyroscope_snippets_make_the_labels_the_rules_read() -> None:
    [group] = load("process-exporter.yml")["process_names"]
    pattern = re.compile(group["cmdline"][0])  # Go's and Python's syntax alike here
    # The runbook's entrypoint: pyroscope-profiler.sh "$SERVICE_NAME" "$PYROSCOPE_URL" "$PROFILE_INTERVAL".
    match = pattern.search("/bin/bash /usr/local/bin/pyroscope-profiler.sh ai-yolo26 http://pyroscope:4040 30")
    assert match is not None and group["name"] == "profiler:{{.Matches.Service}}"
    assert match.group("Service") == "ai-yolo26"
    usage = load("pyroscope-usage-groups.yml")["limits"]["distributor_usage_groups"]
    assert usage == {"${labels.service_name}": '{service_name=~".+"}'}
