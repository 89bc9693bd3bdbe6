"""The fault suite's rig: the e2e fixtures (real `profbot serve` and `profbot runner` processes),
a hypothesis profile, planted secrets looked for in everything Slack was sent, and the figures the
suite prints at its end (tests/rig/fault_figures.py; printed by tests/conftest.py, which also adds
up the pytest-xdist workers' figures)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.e2e.conftest import bot, bot_with, runner, start_runner  # noqa: F401 - fixtures used here
from tests.e2e.test_alerts import ALERT_TOKEN, HMAC_SECRET
from tests.rig.fault_figures import FIGURES, Figures
from tests.rig.podman_rig import GRAFANA_TOKEN
from tests.rig.slack_requests import SIGNING_SECRET
from tests.rig.slack_standin import DEFAULT_TOKEN, SlackStandIn

# Moderate example counts: the whole suite runs in a few minutes against real processes. No
# example database: the inputs are generated afresh each run, and nothing is written to the tree.
settings.register_profile(
    "faults",
    max_examples=int(os.environ.get("PROFBOT_FAULT_EXAMPLES", "200")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
FAULTS = settings.get_profile("faults")


PYROSCOPE_PASSWORD = "pyro-planted-pass-5e1f"  # in the runners' PYROSCOPE_URL, as user:password@
# Secrets that exist on the rig or in the processes' settings; none may reach Slack. The podman
# rig's containers carry some in their environment and logs (tests/rig/podman_rig.py, the backend
# stand-in), the runners' PYROSCOPE_URL has a password, the bot has its signing secret and tokens.
PLANTED = (
    "hf_live_secret_0123456789", "db-password-42", "admin-secret-1", "backend-secret", GRAFANA_TOKEN,
    PYROSCOPE_PASSWORD, SIGNING_SECRET, ALERT_TOKEN, HMAC_SECRET, DEFAULT_TOKEN,
)  # fmt: skip


@pytest.fixture(scope="session")
def figures() -> Figures:
    return FIGURES


@pytest.fixture(autouse=True)
def _counted() -> None:
    FIGURES.tests += 1


def leaks(standin: SlackStandIn) -> list[str]:
    """Every call to Slack (and every file uploaded) that carries a planted secret. The bot token
    authenticates calls (a header, or a form's ``token`` field): only elsewhere is it a leak."""
    found = []
    for call in list(standin.calls):
        body = {k: v for k, v in call.body.items() if k != "token"}
        text = json.dumps(body, ensure_ascii=False)
        found += [f"{call.method}: {secret}" for secret in PLANTED if secret in text]
    for upload in standin.uploads:
        data = upload.data.decode(errors="replace") + upload.title + upload.alt_txt
        found += [f"upload {upload.filename}: {secret}" for secret in PLANTED if secret in data]
    return found


@pytest.fixture
def slack(slack: SlackStandIn) -> Iterator[SlackStandIn]:
    """tests/conftest.py's Slack stand-in; afterwards, whatever it was sent is searched for the
    planted secrets (before that fixture closes it)."""
    yield slack
    found = leaks(slack)
    FIGURES.secrets_leaked += len(found)
    FIGURES.leaks += found
    assert found == [], f"secrets reached Slack: {found}"
