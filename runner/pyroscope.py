"""The Pyroscope HTTP API, as seen from the runner's host."""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from typing import cast
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from profbot.errors import OperationError
from profbot.ops.pyroscope import (
    CANARY_SERVICE,
    CPU_PROFILE_TYPE,
    WALL_PROFILE_TYPE,
    FlameProfile,
    Freshness,
    PushLatency,
    ReadyResult,
    ServiceFreshness,
)

MAX_BODY_CHARS = 500  # a /ready body is a word or a reason; anything longer is cut and said
MAX_PROFILE_NODES = 8192  # Pyroscope's own default cap on a rendered tree; keeps a job result small
CANARY_POLL_SECONDS = 0.1  # how finely push latency is measured: well under the runbook's 1 s


def tls_for(base_url: str) -> ssl.SSLContext | bool:
    """How the runner's HTTP clients check a server's certificate. An https address gets httpx's
    default (certifi's authorities, all loaded when the client is made: about 1 MB of memory per
    client). An http one never speaks TLS (every request is a path under it, redirects are not
    followed), so its client gets a context that trusts no authority at all: nothing to load, and a
    TLS peer it somehow met would be refused, never trusted."""
    if urlsplit(base_url).scheme == "https":
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies hostnames and certificates, against no CA


def without_credentials(url: str) -> str:
    """``url`` with any user, password, query and fragment taken out: a link people see must not
    carry credentials."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    # A query or fragment may carry a token too, and a link is built on the path alone.
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


SINGLE_FORMAT_VALUES = 4  # a frame of a "single" flamebearer: x offset, total, self, name index


def require_single_format(metadata: dict[str, object], bearer: dict[str, object]) -> None:
    """Refuse a render answer that is not one profile in the "single" format, with the reason:
    a "double" (diff) flamebearer holds seven values a frame, two profiles side by side, and read
    four at a time it becomes a flamegraph of nonsense. A missing format is "single", as servers
    that predate the field answer."""
    form = metadata.get("format") or "single"
    if form == "double":
        raise OperationError(
            'Pyroscope answered a diff of two profiles (flamebearer format "double"), not one profile: '
            "it cannot be read as a flamegraph"
        )
    if form != "single":
        raise OperationError(f'Pyroscope answered a flamebearer in format {str(form)[:40]!r}; profbot reads "single"')
    for depth, level in enumerate(cast("list[object]", bearer.get("levels") or [])):
        if not isinstance(level, list) or len(level) % SINGLE_FORMAT_VALUES:
            count = len(level) if isinstance(level, list) else type(level).__name__
            raise OperationError(
                f"Pyroscope's flamebearer is not in the single format it claims: level {depth} holds "
                f"{count} values, not {SINGLE_FORMAT_VALUES} a frame"
            )


def read_flamebearer(
    answer: object, *, service: str, profile_type: str, start: float, end: float, ui_url: str
) -> FlameProfile:
    """A /pyroscope/render answer (its JSON) as the profile it holds; OperationError, with the
    reason, for an answer that holds none or one in another format than "single"."""
    if not isinstance(answer, dict):
        raise OperationError("Pyroscope's render answered no flamebearer")
    try:
        bearer, metadata = answer.get("flamebearer") or {}, answer.get("metadata") or {}
        require_single_format(metadata, bearer)
        names = [str(n) for n in bearer.get("names") or []]
        levels = [[int(v) for v in level] for level in bearer.get("levels") or []]
        num_ticks, max_self = int(bearer.get("numTicks") or 0), int(bearer.get("maxSelf") or 0)
        units, sample_rate = str(metadata.get("units") or "samples"), int(metadata.get("sampleRate") or 100)
        sample_type = str(metadata.get("name") or "")
    except (ValueError, AttributeError, TypeError) as exc:  # a list, a string, levels of text...
        raise OperationError("Pyroscope's render answered no flamebearer") from exc
    return FlameProfile(
        service=service,
        profile_type=profile_type,
        start=start,
        end=end,
        num_ticks=num_ticks,
        max_self=max_self,
        names=names,
        levels=levels,
        units=units,
        sample_rate=sample_rate,
        sample_type=sample_type,
        ui_url=ui_url,
    )


class PyroscopeClient:
    def __init__(
        self,
        base_url: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        ui_url: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Where people open the UI (PYROSCOPE_UI_URL), when the runner reaches Pyroscope by another name.
        self.ui_url = without_credentials((ui_url or base_url).rstrip("/"))
        self.timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, transport=transport, verify=tls_for(self.base_url)
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, path: str) -> httpx.Response:
        """A GET of one of Pyroscope's own paths (``/metrics``, ``/api/v1/status/config``)."""
        return await self._http.get(path)

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

    async def _connect(self, method: str, body: dict[str, object], timeout: float | None = None) -> httpx.Response:
        return await self._http.post(
            f"/querier.v1.QuerierService/{method}", json=body, timeout=self.timeout if timeout is None else timeout
        )

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

    # ---- freshness v1: one LabelValues query answers every service, however many there are
    async def _freshness_v1(
        self, services: list[str], minutes: int, start: int, end: int, seen: list[str]
    ) -> Freshness:
        # Which services have data is what LabelValues already says: a render per service and
        # profile type would cost services x types queries. v1 counts CPU in nanoseconds, so a
        # sample count would mislead anyway: has-data is what is reported.
        present = set(seen)
        wanted = services or sorted(present)
        return Freshness(
            api="v1",
            minutes=minutes,
            services=[ServiceFreshness(service=s, has_data=s in present) for s in wanted],
            seen_services=sorted(present),
            note="Pyroscope v1: the runbook's `render?query=SERVICE` is v0 syntax (v1 answers 400); used the "
            "service_name label values of the window instead (one query for every service)",
        )

    # ---- end of freshness v1

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

    # ------------------------------------------------------------------ profiles

    async def profile(self, service: str, minutes: int) -> FlameProfile:
        """The service's merged profile over the last ``minutes``: its CPU profile (what the SDKs
        send), else its wall-clock one (what py-spy's speedscope uploads land as on v1)."""
        end = time.time()
        start = end - minutes * 60
        first = None
        for profile_type in (CPU_PROFILE_TYPE, WALL_PROFILE_TYPE):
            query = f'{profile_type}{{service_name="{service}"}}'
            try:
                response = await self._http.get(
                    "/pyroscope/render",
                    params={
                        "query": query,
                        # Relative to the server's clock: a profile pushed this very second is in.
                        "from": f"now-{minutes}m",
                        "until": "now",
                        "format": "json",
                        "max-nodes": str(MAX_PROFILE_NODES),
                    },
                )
            except httpx.HTTPError as exc:
                raise OperationError(f"Pyroscope at {self.ui_url} did not answer: {type(exc).__name__}") from exc
            if response.status_code != 200:
                raise OperationError(f"Pyroscope render answered HTTP {response.status_code}: {response.text[:200]}")
            try:
                answer = response.json()
            except ValueError as exc:  # a proxy's HTML page
                raise OperationError("Pyroscope's render answered no flamebearer") from exc
            made = read_flamebearer(
                answer,
                service=service,
                profile_type=profile_type,
                start=start,
                end=end,
                ui_url=self._ui_link(query, start, end),
            )
            if made.num_ticks > 0:
                notes = []
                if profile_type != CPU_PROFILE_TYPE:
                    notes.append(f"no CPU profile in the window: this is the wall-clock profile ({profile_type})")
                if "other" in made.names:  # Pyroscope's bucket for what max-nodes left out
                    notes.append(
                        f'Pyroscope merged the smallest frames into "other" (at most {MAX_PROFILE_NODES} nodes)'
                    )
                made.note = "; ".join(notes) or None
                return made
            first = first or made
        assert first is not None
        # A v0 server answers a v1 query with an empty profile rather than an error: "no data" would
        # be the wrong answer there. Only v1 has the querier's Connect API.
        try:
            probe = await self._connect("LabelValues", {"name": "service_name", "start": 0, "end": 0})
        except httpx.HTTPError as exc:
            raise OperationError(f"Pyroscope at {self.ui_url} did not answer: {type(exc).__name__}") from exc
        if probe.status_code in (404, 405):
            raise OperationError(
                "this Pyroscope speaks the v0 API (no querier endpoints): profbot reads profiles with v1 "
                "profile-type queries only; open the service in Pyroscope's UI instead"
            )
        return first

    def _ui_link(self, query: str, start: float, end: float) -> str:
        return f"{self.ui_url}/?" + urlencode({"query": query, "from": int(start), "until": int(end)})

    # ------------------------------------------------------------------ push latency

    async def push_latency(self, within: float) -> PushLatency:
        """Push one canary sample as an SDK would (``/ingest``, folded), then poll a render of the
        canary service until that very sample shows: its frame name is new on every push, so an
        earlier canary's samples never count. Every request gets only what is left of ``within``
        (a slow Pyroscope is "not visible", what is measured, not the job's own timeout), and the
        render speaks the server's API: ``profbot-canary.cpu`` on v0, a profile-type query on v1."""
        marker = f"push_{uuid.uuid4().hex[:16]}"
        now = int(time.time())
        measured = PushLatency(
            url=f"{without_credentials(self.base_url)}/ingest", pushed=False, visible=False, within_s=within
        )
        started = time.perf_counter()
        deadline = started + within

        def left() -> float:
            return max(0.001, min(self.timeout, deadline - time.perf_counter()))

        try:
            pushed = await self._http.post(
                "/ingest",
                # `.cpu`: the CPU profile type on v1, as the SDKs' own pushes land.
                params={"name": f"{CANARY_SERVICE}.cpu", "format": "folded", "from": now - 1, "until": now,
                        "sampleRate": 100, "spyName": "profbot"},
                content=f"profbot;{marker} 1\n".encode(), timeout=left(),
            )  # fmt: skip
        except httpx.HTTPError as exc:
            measured.error = f"the push got no answer: {type(exc).__name__}"
            return measured
        measured.push_ms = (time.perf_counter() - started) * 1000
        if not pushed.is_success:
            measured.error = f"the push answered HTTP {pushed.status_code}: {pushed.text.strip()[:200]}"
            return measured
        measured.pushed = True
        query = f'{CPU_PROFILE_TYPE}{{service_name="{CANARY_SERVICE}"}}'
        try:  # as freshness tells them apart: only v1 has the querier's Connect API
            probe = await self._connect("LabelValues", {"name": "service_name", "start": 0, "end": 0}, timeout=left())
            if probe.status_code in (404, 405):
                query = f"{CANARY_SERVICE}.cpu"  # v0: the application name the push created
        except httpx.TimeoutException as exc:  # the window may be spent before any render: say where
            measured.error = f"the API probe got no answer: {type(exc).__name__}"
        except httpx.HTTPError:
            pass  # the render below says what answers
        answered, renders_from = False, time.perf_counter()
        while True:
            budget = left()
            try:
                answer = await self._http.get(
                    "/pyroscope/render",
                    params={"query": query, "from": "now-5m", "until": "now", "format": "json"},
                    timeout=budget,
                )
                answered = True
                if answer.status_code != 200:
                    measured.error = f"render answered HTTP {answer.status_code}: {answer.text.strip()[:200]}"
                elif marker in ((answer.json().get("flamebearer") or {}).get("names") or []):
                    measured.visible, measured.error = True, None
                    measured.latency_ms = (time.perf_counter() - started) * 1000
                    return measured
                else:  # Pyroscope answers, the sample is not there yet: an earlier failure is history
                    measured.error = None
            except httpx.TimeoutException as exc:
                if budget >= self.timeout:  # the client's own timeout: Pyroscope is failing to answer
                    measured.error = f"render got no answer: {type(exc).__name__}"
                else:
                    # The window closed during this render: "not visible" is the measurement. The
                    # last answer (or failure) still says why, a cut-short request does not; with
                    # nothing else to say, that no render answered at all is worth saying.
                    if not answered and measured.error is None:
                        left_for_renders = max(0.0, deadline - renders_from)
                        measured.error = f"no render answered in the {left_for_renders:.1f} s the window left for them"
                    return measured
            except httpx.HTTPError as exc:
                measured.error = f"render got no answer: {type(exc).__name__}"
            except (ValueError, AttributeError, TypeError):  # a proxy's HTML page, a list...
                measured.error = "render answered no flamebearer"
            if time.perf_counter() + CANARY_POLL_SECONDS >= deadline:
                return measured
            await asyncio.sleep(CANARY_POLL_SECONDS)
