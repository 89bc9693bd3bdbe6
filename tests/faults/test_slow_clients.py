"""1,000 slow connections against the HTTP edge of a real `profbot serve`: half send their
headers a byte a second, half send nothing. Meanwhile /healthz and a signed Slack request are
answered promptly, and the server closes the slow ones after its read timeout."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from tests.rig.fault_figures import Figures
from tests.rig.processes import BotProcess
from tests.rig.slack_requests import command_body, sign
from tests.rig.slack_standin import SlackStandIn

SLOW = 1000
PROMPT = 2.0  # seconds: what "answered promptly" means while the slow ones hang
READ_TIMEOUT = 10.0  # what the edge allows a client to send its request headers in (bot/edge.py)
HEADERS = b"POST /slack/events HTTP/1.1\r\nHost: profbot\r\nContent-Type: application/x-www-form-urlencoded\r\n"


@dataclass
class Slow:
    opened: int = 0
    closed_after: list[float] = field(default_factory=list)


async def slow_client(host: str, port: int, trickle: bool, slow: Slow, stop: asyncio.Event) -> None:
    """One connection that never finishes its request; when the server closes it, how long after."""
    reader, writer = await asyncio.open_connection(host, port)
    slow.opened += 1
    started = time.monotonic()

    async def dribble() -> None:
        for byte in HEADERS * 100:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(1)

    dribbling = asyncio.create_task(dribble()) if trickle else None
    closed = asyncio.create_task(reader.read())  # b"" (or an error answer, then EOF) once the server lets go
    waiting = asyncio.create_task(stop.wait())
    with contextlib.suppress(ConnectionError):
        await asyncio.wait([closed, waiting], return_when=asyncio.FIRST_COMPLETED)
    if closed.done():
        slow.closed_after.append(time.monotonic() - started)
    for task in (dribbling, closed, waiting):
        if task is not None:
            task.cancel()
    writer.close()


async def hang_and_probe(bot: BotProcess, slack: SlackStandIn, watch: float) -> tuple[Slow, list[float]]:
    """Open the slow connections, probe the bot while they hang, and watch them for ``watch`` s."""
    url = urlsplit(bot.url)
    assert url.hostname is not None and url.port is not None
    slow, stop = Slow(), asyncio.Event()
    clients = [asyncio.create_task(slow_client(url.hostname, url.port, i % 2 == 0, slow, stop)) for i in range(SLOW)]
    while slow.opened < SLOW:
        await asyncio.sleep(0.05)
    await asyncio.sleep(2)  # all are in the middle of their requests
    probes = []
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(3):
            started = time.monotonic()
            health = await client.get(f"{bot.url}/healthz")
            assert health.status_code == 200
            body = command_body("help", response_url=slack.response_url())
            headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
            command = await client.post(f"{bot.url}/slack/events", content=body, headers=headers)
            assert command.status_code == 200 and "/prof health" in command.text
            probes.append(time.monotonic() - started)
    deadline = time.monotonic() + watch
    while time.monotonic() < deadline and len(slow.closed_after) < SLOW:
        await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*clients, return_exceptions=True)
    return slow, probes


def roomy_bot(bot_with: Callable[..., BotProcess]) -> BotProcess:
    # Room for all of them under the connection cap (512 by default, 503 past it: tests/e2e/test_http_edge.py).
    return bot_with(PROFBOT_MAX_CONNECTIONS=str(2 * SLOW))


def test_a_thousand_slow_connections_do_not_keep_others_from_being_answered(
    bot_with: Callable[..., BotProcess], slack: SlackStandIn, figures: Figures
) -> None:
    bot = roomy_bot(bot_with)
    slow, probes = asyncio.run(hang_and_probe(bot, slack, watch=0))
    figures.inputs_tried += slow.opened
    assert slow.opened == SLOW
    assert max(probes) < PROMPT, probes


def test_slow_connections_are_closed_after_the_read_timeout(
    bot_with: Callable[..., BotProcess], slack: SlackStandIn, figures: Figures
) -> None:
    bot = roomy_bot(bot_with)
    slow, _ = asyncio.run(hang_and_probe(bot, slack, watch=READ_TIMEOUT + 10))
    figures.inputs_tried += slow.opened
    assert len(slow.closed_after) == SLOW, f"{SLOW - len(slow.closed_after)} slow connections still open"
    assert max(slow.closed_after) < READ_TIMEOUT + 10
    assert httpx.get(f"{bot.url}/healthz", timeout=5).status_code == 200
