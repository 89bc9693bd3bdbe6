"""The Pyroscope HTTP API, as seen from the runner's host."""

from __future__ import annotations

import time

import httpx

from profbot.ops import ReadyResult

MAX_BODY_CHARS = 500  # a /ready body is a word or a reason; anything longer is cut and said


class PyroscopeClient:
    def __init__(self, base_url: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def ready(self) -> ReadyResult:
        url = f"{self.base_url}/ready"
        started = time.perf_counter()
        try:
            response = await self._http.get("/ready")
        except httpx.HTTPError as exc:
            return ReadyResult(
                url=url,
                ready=False,
                status_code=None,
                body="",
                latency_ms=(time.perf_counter() - started) * 1000,
                error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
            )
        body = response.text.strip()
        if len(body) > MAX_BODY_CHARS:
            body = f"{body[:MAX_BODY_CHARS]}… ({len(body) - MAX_BODY_CHARS} more characters)"
        return ReadyResult(
            url=url,
            ready=response.status_code == 200,
            status_code=response.status_code,
            body=body,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
