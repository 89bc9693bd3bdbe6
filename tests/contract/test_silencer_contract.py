"""The Silencer port: the in-memory fake the use-case tests trust (tests/unit/fake_silencer.py) and
the real client (bot/alertmanager/client.py) against Debian's real `prometheus-alertmanager` answer
the same tests; the marks store, fake and on real Redis, likewise."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.alertmanager.client import AlertmanagerClient
from bot.stores.alert_marks import RedisAlertMarks
from bot.usecases.ports import AlertMarksStore, Silencer
from bot.usecases.silence_model import AlertMarks, Matcher, SilenceSpec
from profbot.errors import SilenceRefused, SilencerUnavailable
from profbot.redis_access import connect
from tests.rig.ports import free_port
from tests.unit.fake_silencer import FakeMarks, FakeSilencer


@pytest.fixture(scope="module")
def alertmanager() -> Iterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="pb-am-"))
    (folder / "am.yml").write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager",
         f"--config.file={folder / 'am.yml'}", f"--storage.path={folder / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["fake", "alertmanager"])
async def silencer(request: pytest.FixtureRequest) -> AsyncIterator[Silencer]:
    if request.param == "fake":
        yield FakeSilencer(time.time)
        return
    client = AlertmanagerClient(request.getfixturevalue("alertmanager"))
    yield client
    await client.aclose()


def spec(hours: float = 1, **labels: str) -> SilenceSpec:
    now = datetime.now(UTC)
    return SilenceSpec(
        matchers=[Matcher(name=k, value=v) for k, v in (labels or {"alertname": 'Pyro "down" ü {x}'}).items()],
        startsAt=now, endsAt=now + timedelta(hours=hours), createdBy="ana (U0ANA)", comment="from a thread",
    )  # fmt: skip


async def test_a_silence_is_read_back_with_its_matchers_and_expires(silencer: Silencer) -> None:
    made = spec()
    silence_id = await silencer.create(made)
    found = await silencer.get(silence_id)
    assert found is not None and found.state == "active" and found.matchers == made.matchers
    assert found.createdBy == "ana (U0ANA)" and found.comment == "from a thread"
    await silencer.expire(silence_id)
    expired = await silencer.get(silence_id)
    assert expired is not None and expired.state == "expired"


async def test_moving_only_the_end_keeps_the_id(silencer: Silencer) -> None:
    made = spec()
    silence_id = await silencer.create(made)
    longer = made.model_copy(update={"id": silence_id, "endsAt": made.endsAt + timedelta(hours=1)})
    assert await silencer.create(longer) == silence_id
    found = await silencer.get(silence_id)
    assert found is not None and abs((found.endsAt - longer.endsAt).total_seconds()) < 1


async def test_an_unknown_silence_is_none_and_no_matchers_is_refused(silencer: Silencer) -> None:
    assert await silencer.get(str(uuid.uuid4())) is None
    with pytest.raises(SilenceRefused):
        await silencer.create(spec().model_copy(update={"matchers": []}))


async def test_an_alertmanager_not_there_is_unavailable() -> None:
    client = AlertmanagerClient(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(SilencerUnavailable, match="did not answer"):
        await client.create(spec())
    await client.aclose()


@pytest.fixture(params=["fake", "redis"])
async def marks(request: pytest.FixtureRequest, redis_url: str, prefix: str) -> AsyncIterator[AlertMarksStore]:
    if request.param == "fake":
        yield FakeMarks()
        return
    client = connect(redis_url)
    yield RedisAlertMarks(client, prefix, retention_seconds=60)
    await client.aclose()


async def test_marks_are_kept_per_group(marks: AlertMarksStore) -> None:
    assert await marks.marks("g1") is None
    await marks.put("g1", AlertMarks(incident=2, silence_id="abc", silenced_by="U0ANA"))
    assert await marks.marks("g1") == AlertMarks(incident=2, silence_id="abc", silenced_by="U0ANA")
