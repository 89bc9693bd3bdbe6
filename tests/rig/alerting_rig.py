"""Debian's `prometheus` and `prometheus-alertmanager` on loopback, pointed at `profbot serve`,
with the files profbot ships in deploy/alerting/.

The rig takes the shipped rules, Prometheus config and Alertmanager config as they are, and changes
only what a test machine must: addresses and ports (the stand-in Pyroscope as the `pyroscope`
scrape target, the bot's webhook URL, Alertmanager's), the bearer token's file, and the timings
(1 s scrapes and evaluations, no `for`, 1 s group wait), so an alert fires and resolves in seconds.
The rig has no node or process exporter: their scrape jobs are dropped. Every path flag is given
(the Debian binaries default to /etc and /var/lib), and Alertmanager starts first (Prometheus
waits a minute before it sends again to an Alertmanager that refused its first send).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from ruamel.yaml import YAML

from tests.rig.ports import free_port

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "alerting"
# One matcher of Alertmanager's UI filter (ui/app/src/Utils/Filter.elm): a label name, `=` and a
# JSON string, which the UI decodes with a JSON decoder.
_UI_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)=("(?:[^"\\]|\\.)*")\s*(?:,|$)')


def silence_matchers(url: str) -> dict[str, str]:
    """The matchers Alertmanager's UI prefills from a ``#/silences/new?filter=...`` link."""
    path, _, query = urlsplit(url).fragment.partition("?")
    assert path == "/silences/new", url
    [raw] = parse_qs(query, keep_blank_values=True)["filter"]
    assert raw.startswith("{") and raw.endswith("}"), raw
    body, found, at = raw[1:-1], {}, 0
    while at < len(body):
        match = _UI_MATCHER.match(body, at)
        assert match, f"Alertmanager's UI could not parse {body[at:]!r}"
        found[match.group(1)] = json.loads(match.group(2))
        at = match.end()
    return found


def _shipped(name: str) -> Any:
    return YAML(typ="safe").load((SHIPPED / name).read_text())


def _write(path: Path, data: Any) -> None:
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    with path.open("w") as out:
        yaml.dump(data, out)


class AlertingRig:
    def __init__(self, *, scrape_target: str, webhook_url: str, token: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pb-alerting-"))
        self.am_port, self.prom_port = free_port(), free_port()
        self.scrape_target = scrape_target
        self.webhook_url = webhook_url
        self.token = token
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def am_url(self) -> str:
        return f"http://127.0.0.1:{self.am_port}"

    def start(self) -> AlertingRig:
        token_file = self.dir / "profbot-alert-token"
        token_file.write_text(self.token)
        token_file.chmod(0o600)
        am = _shipped("alertmanager.yml")
        for receiver in am["receivers"]:
            for hook in receiver.get("webhook_configs", []):
                hook["url"] = self.webhook_url
                hook["http_config"]["authorization"]["credentials_file"] = str(token_file)
        am["route"].update(group_wait="1s", group_interval="3s", repeat_interval="1h")
        _write(self.dir / "alertmanager.yml", am)

        rules = _shipped("profbot.rules.yml")
        for group in rules["groups"]:
            for rule in group["rules"]:
                rule["for"] = "0s"
        _write(self.dir / "profbot.rules.yml", rules)

        prom = _shipped("prometheus.yml")
        prom["global"].update(scrape_interval="1s", evaluation_interval="1s")
        prom["rule_files"] = [str(self.dir / "profbot.rules.yml")]
        prom["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [f"127.0.0.1:{self.am_port}"]}]}]
        [pyroscope] = [job for job in prom["scrape_configs"] if job["job_name"] == "pyroscope"]
        pyroscope.update(scrape_timeout="900ms", static_configs=[{"targets": [self.scrape_target]}])
        prom["scrape_configs"] = [pyroscope]
        _write(self.dir / "prometheus.yml", prom)

        self._run(
            "alertmanager",
            [shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager",
             f"--config.file={self.dir / 'alertmanager.yml'}", f"--storage.path={self.dir / 'am'}",
             f"--web.listen-address=127.0.0.1:{self.am_port}", "--cluster.listen-address=",
             f"--web.external-url={self.am_url}"],
            f"{self.am_url}/-/ready",
        )  # fmt: skip
        self._run(
            "prometheus",
            [shutil.which("prometheus") or "/usr/bin/prometheus",
             f"--config.file={self.dir / 'prometheus.yml'}", f"--storage.tsdb.path={self.dir / 'prom'}",
             f"--web.listen-address=127.0.0.1:{self.prom_port}"],
            f"http://127.0.0.1:{self.prom_port}/-/ready",
        )  # fmt: skip
        return self

    def alerts(self, matchers: dict[str, str]) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds that ``matchers`` select (its API v2, matchers as a silence's)."""
        params = httpx.QueryParams([("filter", f"{name}={json.dumps(value)}") for name, value in matchers.items()])
        response = httpx.get(f"{self.am_url}/api/v2/alerts", params=params, timeout=10)
        response.raise_for_status()
        return list(response.json())

    def _run(self, name: str, argv: list[str], ready_url: str) -> None:
        log = open(self.dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        self._procs.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited {proc.returncode}:\n{self.log(name)}")
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready:\n{self.log(name)}")

    def log(self, name: str) -> str:
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def stop(self) -> None:
        for proc in reversed(self._procs):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
