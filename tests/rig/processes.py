"""``profbot serve`` and ``profbot runner`` as real processes, as they run in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis

from tests.rig.ports import free_port
from tests.rig.slack_requests import APPROVERS_GROUP, OPERATOR, OPERATOR_2, SIGNING_SECRET
from tests.rig.slack_standin import APP_TOKEN, DEFAULT_TOKEN

REPO = Path(__file__).resolve().parents[2]
# How long a process may take to be ready: generous, as the suite runs on several pytest-xdist
# workers at once and a loaded machine starts Python slowly; the wait ends as soon as it is ready.
STARTUP_SECONDS = 90


def base_env(**settings: str) -> dict[str, str]:
    """The parent's environment without any profbot or Slack setting, plus ``settings``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PROFBOT_", "SLACK_", "REDIS_", "PYROSCOPE_", "CONTAINER_HOST", "CONTAINERS_"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


class ProfbotProcess:
    def __init__(self, role: str, env: dict[str, str]) -> None:
        self.role = role
        self.env = env
        self.log_path = Path(tempfile.mkstemp(prefix=f"profbot-{role}-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ProfbotProcess:
        # cwd without a .env file, so only the settings given here apply
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli", self.role],
            env=self.env,
            cwd=self.log_path.parent,
            stdout=open(self.log_path, "ab"),  # noqa: SIM115 - owned by the child
            stderr=subprocess.STDOUT,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def gave_up(self, why: str) -> RuntimeError:
        """The process never became ready: it is killed (nobody else would stop it), and the error says why."""
        self.stop(signal.SIGKILL, timeout=10)
        return RuntimeError(f"{why}:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code


class BotProcess(ProfbotProcess):
    def __init__(self, *, redis_url: str, prefix: str, slack_api_url: str, **extra: str) -> None:
        """``SOCKET_MODE="1"`` in ``extra``: Slack over Socket Mode (SLACK_APP_TOKEN, no signing
        secret), else over HTTP."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        socket_mode = extra.pop("SOCKET_MODE", "") == "1"
        slack = {"SLACK_APP_TOKEN": APP_TOKEN} if socket_mode else {"SLACK_SIGNING_SECRET": SIGNING_SECRET}
        super().__init__(
            "serve",
            base_env(
                SLACK_BOT_TOKEN=DEFAULT_TOKEN,
                **slack,
                SLACK_API_URL=slack_api_url,
                PROFBOT_LISTEN=f"127.0.0.1:{self.port}",
                REDIS_URL=redis_url,
                PROFBOT_REDIS_PREFIX=prefix,
                PROFBOT_JOB_TIMEOUT="15",
                **{
                    "PROFBOT_OPERATORS": f"{OPERATOR},{OPERATOR_2}",
                    "PROFBOT_APPROVERS": f"{OPERATOR},{APPROVERS_GROUP}",
                    **extra,
                },
            ),
        )

    def start(self) -> BotProcess:
        super().start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise self.gave_up(f"profbot serve exited {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise self.gave_up(f"profbot serve did not come up within {STARTUP_SECONDS}s")


class RunnerProcess(ProfbotProcess):
    def __init__(self, *, redis_url: str, prefix: str, host_id: str, settings: dict[str, str]) -> None:
        """``settings``: the runner's environment beyond the bus (see PodmanRig.runner_env)."""
        self.redis_url = redis_url
        self.prefix = prefix
        self.host_id = host_id
        super().__init__(
            "runner",
            base_env(
                REDIS_URL=redis_url,
                PROFBOT_REDIS_PREFIX=prefix,
                PROFBOT_HOST_ID=host_id,
                PROFBOT_HEARTBEAT_SECONDS="1",
                **settings,
            ),
        )

    def start(self) -> RunnerProcess:
        super().start()
        client = redis.Redis.from_url(self.redis_url)
        key = f"{self.prefix}:runner:{self.host_id}:alive"
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise self.gave_up(f"profbot runner exited {self.proc.returncode}")
            if client.exists(key):
                return self
            time.sleep(0.05)
        raise self.gave_up(f"profbot runner never heartbeated within {STARTUP_SECONDS}s")


def run_profbot(
    *args: str, env: dict[str, str], stdin: str = "", cwd: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """``profbot ARGS`` run to its end with ``stdin`` as its standard input (not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        input=stdin, env=env, cwd=cwd or Path(tempfile.gettempdir()), capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
