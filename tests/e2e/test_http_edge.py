"""The HTTP edge against slow and greedy clients (bot/edge.py), on a real `profbot serve`: nothing
it holds open for long, nothing unauthenticated it reads, no connection queued past its cap."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

from tests.rig.processes import BotProcess

ALERT_TOKEN = "alert-token-0123456789abcdef"


def connect(bot: BotProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", bot.port), timeout=30)


def answer(sock: socket.socket, within: float) -> bytes:
    """What the server sends until it closes the connection, waiting ``within`` seconds at most."""
    sock.settimeout(within)
    got = b""
    try:
        while chunk := sock.recv(4096):
            got += chunk
    except TimeoutError:
        got += b"<still open>"
    return got


def test_a_client_that_never_finishes_its_headers_is_closed(bot: BotProcess) -> None:
    silent, trickling = connect(bot), connect(bot)
    trickling.sendall(b"GET /healthz HTTP/1.1\r\nHost: profbot\r\nX-Slow: ")  # and never the rest
    assert answer(silent, within=25) == b""  # closed, not held for the hour aiohttp keeps idle ones
    assert b"<still open>" not in answer(trickling, within=5)


def test_connections_past_the_cap_are_answered_503_at_once(bot_with: Callable[..., BotProcess]) -> None:
    bot = bot_with(PROFBOT_MAX_CONNECTIONS="20")
    burst = [connect(bot) for _ in range(30)]  # all at once: asyncio accepts a burst before serving any
    time.sleep(1)
    refused = 0
    for sock in burst:
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # taken, and waiting for a request that will not come
            refused += sock.recv(4096).startswith(b"HTTP/1.1 503")
    assert refused == 10
    for sock in burst:
        sock.close()
    deadline = time.monotonic() + 10
    while True:  # once they are gone, a request is served again
        try:
            reply = answer(_get(bot, "/healthz"), within=5)
        except ConnectionResetError:  # still refused: the request sent was never read
            reply = b""
        if reply.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert reply.startswith(b"HTTP/1.1 200")


def _get(bot: BotProcess, path: str) -> socket.socket:
    sock = connect(bot)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: profbot\r\nConnection: close\r\n\r\n".encode())
    return sock


def _alert_headers(token: str, length: int) -> bytes:
    return (
        f"POST /alerts/alertmanager HTTP/1.1\r\nHost: profbot\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()


def test_an_alert_with_a_wrong_token_is_refused_before_its_body_is_read(bot_with: Callable[..., BotProcess]) -> None:
    bot = bot_with(PROFBOT_ALERT_TOKEN=ALERT_TOKEN, PROFBOT_ALERT_CHANNEL="C0ALERTS")
    sock = connect(bot)
    sock.sendall(_alert_headers("wrong-token-0123456789", 500_000))  # a body announced, never sent
    reply = answer(sock, within=5)
    assert reply.startswith(b"HTTP/1.1 401")
    assert b"invalid bearer token" in reply


def test_an_alert_body_sent_too_slowly_gets_408(bot_with: Callable[..., BotProcess]) -> None:
    bot = bot_with(PROFBOT_ALERT_TOKEN=ALERT_TOKEN, PROFBOT_ALERT_CHANNEL="C0ALERTS")
    sock = connect(bot)
    sock.sendall(_alert_headers(ALERT_TOKEN, 1000) + b'{"version": "4", ')  # then nothing more
    reply = answer(sock, within=25)
    assert reply.startswith(b"HTTP/1.1 408")
    assert b"request body not received within 10s" in reply


def _raw_post(bot: BotProcess, path: str, headers: bytes, body: bytes) -> bytes:
    sock = connect(bot)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: profbot\r\nContent-Length: {len(body)}\r\nConnection: close\r\n".encode()
        + headers
        + b"\r\n"
        + body
    )
    return answer(sock, within=10)


def test_garbage_in_the_signing_headers_gets_a_4xx_with_the_reason_not_a_500(
    bot_with: Callable[..., BotProcess],
) -> None:
    bot = bot_with(PROFBOT_ALERT_TOKEN=ALERT_TOKEN, PROFBOT_ALERT_CHANNEL="C0ALERTS")
    form = b"Content-Type: application/x-www-form-urlencoded\r\n"
    # A timestamp of 5,000 digits: past Python's int() limit for a string, and no time at all.
    reply = _raw_post(bot, "/slack/events", form + b"X-Slack-Request-Timestamp: " + b"9" * 5000
                      + b"\r\nX-Slack-Signature: v0=00\r\n", b"command=%2Fprof")  # fmt: skip
    assert reply.startswith(b"HTTP/1.1 401"), reply[:300]
    assert b"request timestamp is not within five minutes of now" in reply
    # Digits that are not ASCII ones, and a signature that is not ASCII.
    reply = _raw_post(bot, "/slack/events", form + "X-Slack-Request-Timestamp: ١٧٦٤١٧٦٤٠١\r\n".encode()
                      + b"X-Slack-Signature: v0=\xff\xfe\r\n", b"command=%2Fprof")  # fmt: skip
    assert reply.startswith(b"HTTP/1.1 401"), reply[:300]
    # An Authorization header that is not UTF-8, on the alert intake.
    json_type = b"Content-Type: application/json\r\n"
    for value in (b"Bearer \xff\xfe\xfd", b"Bearer " + "tök\u00e9n".encode(), b"\xc3\x28 x"):
        reply = _raw_post(bot, "/alerts/alertmanager", json_type + b"Authorization: " + value + b"\r\n", b"{}")
        assert reply.startswith(b"HTTP/1.1 401"), reply[:300]
        assert b"Authorization must be 'Bearer <token>'" in reply or b"invalid bearer token" in reply, reply[:300]
    assert answer(_get(bot, "/healthz"), within=5).startswith(b"HTTP/1.1 200")
