"""Debian's `prometheus` and `prometheus-alertmanager` on loopback, pointed at `profbot serve`.

Prometheus scrapes the stand-in Pyroscope's /metrics every second; the rule `PyroscopeDown` fires
when the scrape fails. Alertmanager groups by alertname and posts to the bot's
/alerts/alertmanager with a bearer token. Settings follow ../shared/reference/alerts-and-pyroscope.md
(every path flag given: the Debian binaries default to /etc and /var/lib; Alertmanager first).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.rig.ports import free_port


class AlertingRig:
    def __init__(self, *, scrape_target: str, webhook_url: str, token: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pb-alerting-"))
        self.am_port, self.prom_port = free_port(), free_port()
        self.scrape_target = scrape_target
        self.webhook_url = webhook_url
        self.token = token
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> AlertingRig:
        (self.dir / "alertmanager.yml").write_text(f"""\
route: {{receiver: profbot, group_by: [alertname], group_wait: 1s, group_interval: 3s, repeat_interval: 1h}}
receivers:
  - name: profbot
    webhook_configs:
      - url: '{self.webhook_url}'
        send_resolved: true
        http_config: {{authorization: {{type: Bearer, credentials: '{self.token}'}}}}
""")
        (self.dir / "rules.yml").write_text("""\
groups:
  - name: pyroscope
    rules:
      - alert: PyroscopeDown
        expr: up{job="pyroscope"} == 0
        for: 0s
        labels: {severity: critical}
        annotations: {summary: "Pyroscope is not answering its scrape"}
""")
        (self.dir / "prometheus.yml").write_text(f"""\
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{self.dir / "rules.yml"}]
alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{self.am_port}']}}]}}]}}
scrape_configs:
  - job_name: pyroscope
    scrape_timeout: 900ms
    static_configs: [{{targets: ['{self.scrape_target}']}}]
""")
        self._run(
            "alertmanager",
            [shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager",
             f"--config.file={self.dir / 'alertmanager.yml'}", f"--storage.path={self.dir / 'am'}",
             f"--web.listen-address=127.0.0.1:{self.am_port}", "--cluster.listen-address=",
             f"--web.external-url=http://127.0.0.1:{self.am_port}"],
            f"http://127.0.0.1:{self.am_port}/-/ready",
        )  # fmt: skip
        self._run(
            "prometheus",
            [shutil.which("prometheus") or "/usr/bin/prometheus",
             f"--config.file={self.dir / 'prometheus.yml'}", f"--storage.tsdb.path={self.dir / 'prom'}",
             f"--web.listen-address=127.0.0.1:{self.prom_port}"],
            f"http://127.0.0.1:{self.prom_port}/-/ready",
        )  # fmt: skip
        return self

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
