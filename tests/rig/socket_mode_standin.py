"""A stand-in for Slack's Socket Mode, answering like Slack does (slack-platform.md).

A WebSocket server (aiohttp, in a thread of its own) that the Web API stand-in's
``apps.connections.open`` points at. On connect it sends ``hello``; :meth:`send` delivers an
envelope (``slash_commands``, ``interactive``, ``events_api``) to the newest connection and
:meth:`ack` waits for the app's acknowledgement, recording its ``envelope_id``, its payload and how
long it took. :meth:`drop` closes every connection, as Slack does before a refresh.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.rig.slack_standin import SlackStandIn


@dataclass
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None
    seconds: float  # from sending the envelope to its acknowledgement


@dataclass
class Envelope:
    id: str
    sent_at: float
    ack: Ack | None = None
    done: threading.Event = field(default_factory=threading.Event)


class SocketModeStandIn:
    def __init__(self, web_api: SlackStandIn) -> None:
        self.web_api = web_api
        self.connections: list[web.WebSocketResponse] = []
        self.opened = 0  # connections ever opened: a reconnect makes it grow
        self.envelopes: dict[str, Envelope] = {}
        self.unknown_acks: list[dict[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0

    def start(self) -> SocketModeStandIn:
        self._thread.start()
        self._ready.wait(10)
        self.web_api.socket_url = f"ws://127.0.0.1:{self.port}/link/?ticket={uuid.uuid4().hex}"
        return self

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # ------------------------------------------------------------------ what a test does

    def wait_connected(self, count: int = 1, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.opened >= count and self.connections:
                return
            time.sleep(0.05)
        raise AssertionError(f"{count} Socket Mode connection(s) expected within {timeout}s, saw {self.opened}")

    def send(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver an envelope of ``kind`` to the newest connection; its envelope id."""
        envelope_id = uuid.uuid4().hex
        message = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                   "accepts_response_payload": kind in ("slash_commands", "interactive"), "retry_attempt": 0,
                   "retry_reason": ""}  # fmt: skip
        self.envelopes[envelope_id] = Envelope(envelope_id, time.monotonic())
        asyncio.run_coroutine_threadsafe(self._send(json.dumps(message)), self._loop).result(10)
        return envelope_id

    def ack(self, envelope_id: str, timeout: float = 10) -> Ack:
        envelope = self.envelopes[envelope_id]
        if not envelope.done.wait(timeout) or envelope.ack is None:
            raise AssertionError(f"envelope {envelope_id} was not acknowledged within {timeout}s")
        return envelope.ack

    def drop(self) -> None:
        """Close every connection from Slack's side."""
        asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(10)

    # ------------------------------------------------------------------ the server

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/link/", self._link)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._runner = runner
        self._ready.set()
        self._loop.run_forever()

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections.append(ws)
        self.opened += 1
        hello = {"type": "hello", "num_connections": len(self.connections), "connection_info": {"app_id": "A0PROFBOT"},
                 "debug_info": {"host": "standin", "approximate_connection_time": 3600}}  # fmt: skip
        await ws.send_str(json.dumps(hello))
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            envelope = self.envelopes.get(str(data.get("envelope_id")))
            if envelope is None:
                self.unknown_acks.append(data)
                continue
            envelope.ack = Ack(envelope.id, data.get("payload"), time.monotonic() - envelope.sent_at)
            envelope.done.set()
        if ws in self.connections:
            self.connections.remove(ws)
        return ws

    async def _send(self, text: str) -> None:
        if not self.connections:
            raise AssertionError("no Socket Mode connection to send to")
        await self.connections[-1].send_str(text)

    async def _close_all(self) -> None:
        for ws in list(self.connections):
            await ws.close()
        self.connections.clear()

    async def _shutdown(self) -> None:
        await self._close_all()
        await self._runner.cleanup()
