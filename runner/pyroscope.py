"""The Pyroscope HTTP API, as seen from the runner's host."""

from __future__ import annotations

import time

import httpx

from profbot.errors import OperationError
from profbot.ops.pyroscope import Freshness, ReadyResult, ServiceFreshness

MAX_BODY_CHARS = 500  # a /ready body is a word or a reason; anything longer is cut and said
MAX_PROFILE_TYPES = 8  # render queries per service; a server has a handful of types


class PyroscopeClient:
    def __init__(self, base_url: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> PyroscopeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

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

    # ------------------------------------------------------------------ freshness

    async def _connect(self, method: str, body: dict[str, object]) -> httpx.Response:
        return await self._http.post(f"/querier.v1.QuerierService/{method}", json=body)

    async def freshness(self, services: list[str], minutes: int) -> Freshness:
        """Which services sent profiles in the last ``minutes``, with the API the server speaks.

        The runbook's script asks ``/pyroscope/render?query=SERVICE``: Pyroscope v0 syntax, which
        v1 answers with HTTP 400. On v1 the services with data are the ``service_name`` label
        values of the window, and each service's samples come from render queries that start
        with a profile type id, as v1 requires.
        """
        end = int(time.time() * 1000)
        start = end - minutes * 60_000
        try:
            labels = await self._connect("LabelValues", {"name": "service_name", "start": start, "end": end})
        except httpx.HTTPError as exc:
            raise OperationError(f"Pyroscope at {self.base_url} did not answer: {exc}") from exc
        if labels.status_code == 200:
            return await self._freshness_v1(services, minutes, start, end, labels.json().get("names") or [])
        if labels.status_code in (404, 405):
            return await self._freshness_v0(services, minutes)
        raise OperationError(f"Pyroscope LabelValues answered HTTP {labels.status_code}: {labels.text[:200]}")

    async def _freshness_v1(
        self, services: list[str], minutes: int, start: int, end: int, seen: list[str]
    ) -> Freshness:
        types_response = await self._connect("ProfileTypes", {"start": start, "end": end})
        types = [str(t.get("ID")) for t in (types_response.json().get("profileTypes") or []) if t.get("ID")]
        wanted = services or sorted(seen)
        results = []
        for service in wanted:
            samples = 0
            if service in seen:
                for profile_type in types[:MAX_PROFILE_TYPES]:
                    response = await self._http.get(
                        "/pyroscope/render",
                        params={
                            "query": f'{profile_type}{{service_name="{service}"}}',
                            "from": f"now-{minutes}m",
                            "until": "now",
                            "format": "json",
                        },
                    )
                    if response.status_code == 200:
                        samples += int((response.json().get("flamebearer") or {}).get("numTicks") or 0)
            results.append(ServiceFreshness(service=service, has_data=samples > 0, samples=samples))
        return Freshness(
            api="v1",
            minutes=minutes,
            services=results,
            seen_services=sorted(seen),
            note="Pyroscope v1: the runbook's `render?query=SERVICE` is v0 syntax (v1 answers 400); used the "
            "service_name label values of the window and render queries by profile type instead",
        )

    async def _freshness_v0(self, services: list[str], minutes: int) -> Freshness:
        results = []
        for service in services:
            response = await self._http.get(
                "/pyroscope/render",
                params={"query": service, "from": f"now-{minutes}m", "until": "now", "format": "json"},
            )
            if response.status_code != 200:
                return Freshness(
                    api="unsupported",
                    minutes=minutes,
                    services=[],
                    seen_services=[],
                    note=f"neither the v1 API nor the v0 render query works here (render answered "
                    f"HTTP {response.status_code}): this Pyroscope is not one profbot knows",
                )
            ticks = int((response.json().get("flamebearer") or {}).get("numTicks") or 0)
            results.append(ServiceFreshness(service=service, has_data=ticks > 0, samples=ticks))
        return Freshness(
            api="v0",
            minutes=minutes,
            services=results,
            seen_services=[],
            note="Pyroscope v0: used the runbook's render query as written",
        )
