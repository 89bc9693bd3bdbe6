"""Grafana's HTTP API, as seen from the runner's host (MAINT-PROF-003)."""

from __future__ import annotations

import httpx

from profbot.ops.grafana import GrafanaDatasource, GrafanaDatasources
from runner.pyroscope import tls_for
from runner.redaction import redact


class GrafanaClient:
    def __init__(
        self, base_url: str, token: str, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # The token travels in a header only; it is never part of a result or an error text.
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {token}"},
            verify=tls_for(self.base_url),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> GrafanaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def datasources(self) -> GrafanaDatasources:
        try:
            response = await self._http.get("/api/datasources")
        except httpx.HTTPError as exc:
            return GrafanaDatasources(
                grafana_url=self.base_url, reachable=False, datasources=[], error=f"{type(exc).__name__}: {exc}"
            )
        if response.status_code != 200:
            reason = "the token was refused" if response.status_code in (401, 403) else response.text[:200]
            return GrafanaDatasources(
                grafana_url=self.base_url,
                reachable=True,
                datasources=[],
                error=f"HTTP {response.status_code}: {redact(reason)[0]}",
            )
        items = response.json() if isinstance(response.json(), list) else []
        return GrafanaDatasources(
            grafana_url=self.base_url,
            reachable=True,
            datasources=[
                GrafanaDatasource(name=str(d.get("name", "")), type=str(d.get("type", "")), url=d.get("url"))
                for d in items
                if isinstance(d, dict)
            ],
        )
