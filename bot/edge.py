"""The HTTP edge's guards against slow and greedy clients, which aiohttp leaves to its user.

- **Headers**: aiohttp's keep-alive timer runs from the moment a connection opens until a whole
  request has arrived, so ``keepalive_timeout`` is the header read timeout too: a client that sends
  nothing, or its headers a byte at a time, is closed after ``HEADER_SECONDS``.
- **Body**: :func:`read_body` reads within ``BODY_SECONDS`` (408 after it) and, like aiohttp,
  refuses more than ``client_max_size`` (413); :func:`read_body_within` reads up to a limit of its
  caller's (the alert webhooks' 16 MiB) and says when a body is past it. Callers check what they
  can before reading it (an alert webhook's bearer token).
- **Connections**: :class:`CappedSite` listens like aiohttp's ``TCPSite`` but answers a connection
  beyond ``MAX_CONNECTIONS`` with a bare 503 and closes it, instead of queueing it without limit.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from aiohttp import web

from profbot.heap import give_back_soon

HEADER_SECONDS = 10.0
BODY_SECONDS = 10.0
MAX_CONNECTIONS = 512

RUNNER_OPTIONS: dict[str, Any] = {"keepalive_timeout": HEADER_SECONDS}

_TOO_MANY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    b"Retry-After: 1\r\nContent-Length: 37\r\n\r\ntoo many connections: try again later"
)


def _too_slow() -> web.HTTPRequestTimeout:
    return web.HTTPRequestTimeout(
        text=f'{{"ok": false, "error": "request body not received within {BODY_SECONDS:.0f}s"}}',
        content_type="application/json",
    )


async def read_body(request: web.Request) -> bytes:
    """The request's body, read within ``BODY_SECONDS``: 408 for a client that sends it too slowly
    (413 past the application's ``client_max_size``, as ``request.read()`` does)."""
    try:
        async with asyncio.timeout(BODY_SECONDS):
            return await request.read()
    except TimeoutError:
        raise _too_slow() from None


async def read_body_within(request: web.Request, limit: int) -> bytearray | None:
    """The body, read within ``BODY_SECONDS`` (408 after it) up to ``limit`` bytes, whatever the
    application's ``client_max_size``; None past the limit, read no further. One buffer, grown in
    place: the parser takes it as it is."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = bytearray()
    try:
        async with asyncio.timeout(BODY_SECONDS):
            async for chunk in request.content.iter_chunked(256 * 1024):
                body += chunk
                if len(body) > limit:
                    return None
    except TimeoutError:
        raise _too_slow() from None
    return body


# A body past this leaves enough freed heap behind to be worth handing back to the system.
LARGE_BODY_BYTES = 1024 * 1024


def give_back_memory_after(body_bytes: int) -> None:
    """After a large body, its freed heap goes back to the system (profbot/heap.py)."""
    if body_bytes > LARGE_BODY_BYTES:
        give_back_soon()


class _Refusal(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_TOO_MANY)
        transport.close()


class _Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, counted from its acceptance to its end: asyncio
    accepts a whole burst before any connection is made, so the server's own list comes too late."""

    def __init__(self, inner: asyncio.Protocol, site: CappedSite) -> None:
        self._inner, self._site = inner, site

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._site.open_connections -= 1
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class CappedSite(web.BaseSite):
    """``TCPSite`` with a cap on open connections."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *, max_connections: int = MAX_CONNECTIONS):
        super().__init__(runner, backlog=1024)
        self._host, self._port, self.max_connections = host, port, max_connections
        self.open_connections = 0

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None

        def connection() -> asyncio.BaseProtocol:
            if self.open_connections >= self.max_connections:
                return _Refusal()
            self.open_connections += 1
            return _Counted(server(), self)

        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        self._server = await asyncio.get_running_loop().create_server(
            connection, self._host, self._port, family=family, backlog=self._backlog, reuse_address=True
        )
