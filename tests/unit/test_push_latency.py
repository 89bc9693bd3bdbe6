"""The push-latency canary against recorded Pyroscope answers (httpx MockTransport, injected): what
it pushes, how it recognises its own sample, and what it says when the push or the query fails."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from profbot.ops.pyroscope import CPU_PROFILE_TYPE
from runner.pyroscope import PyroscopeClient


class Pyroscope:
    """Stores folded pushes; a render shows them only from its ``shows_after``-th query on (how an
    ingester that lags behind answers), and never when ``render_status`` is not 200."""

    def __init__(
        self, shows_after: int = 1, push_status: int = 200, render_status: int = 200, v0: bool = False
    ) -> None:
        self.v0 = v0  # v0 has no querier API and knows the canary as the application `profbot-canary.cpu`
        self.timeouts: list[float] = []  # each request's read timeout, as the client set it
        self.frames: list[str] = ["profbot", "push_0123456789abcdef"]  # an earlier canary's sample
        self.pushes: list[httpx.Request] = []
        self.renders: list[httpx.Request] = []
        self.shows_after, self.push_status, self.render_status = shows_after, push_status, render_status
        self.pending: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.timeouts.append(request.extensions["timeout"]["read"])
        if request.url.path == "/querier.v1.QuerierService/LabelValues":
            return httpx.Response(404) if self.v0 else httpx.Response(200, json={"names": ["profbot-canary"]})
        if request.url.path == "/ingest":
            self.pushes.append(request)
            if self.push_status != 200:
                return httpx.Response(self.push_status, text="ingester unavailable")
            stack, _count = request.content.decode().strip().rsplit(" ", 1)
            self.pending.extend(stack.split(";"))
            return httpx.Response(200)
        if request.url.path == "/pyroscope/render":
            self.renders.append(request)
            v1_query = request.url.params["query"].startswith(CPU_PROFILE_TYPE)
            if self.render_status != 200 or v1_query == self.v0:
                return httpx.Response(self.render_status if self.render_status != 200 else 400, text="invalid query")
            if len(self.renders) >= self.shows_after:
                self.frames += self.pending
            return httpx.Response(200, json={"flamebearer": {"names": ["total", *self.frames], "numTicks": 2}})
        return httpx.Response(404)


async def test_the_canary_pushes_one_folded_sample_and_finds_that_very_sample() -> None:
    pyroscope = Pyroscope(shows_after=3)
    async with PyroscopeClient("http://pyroscope:4040", timeout=5, transport=httpx.MockTransport(pyroscope)) as client:
        measured = await client.push_latency(within=10)

    assert measured.pushed and measured.visible and measured.error is None
    assert measured.latency_ms is not None and measured.push_ms is not None
    assert measured.latency_ms >= measured.push_ms
    [push] = pyroscope.pushes
    params = {k: v[0] for k, v in parse_qs(push.url.query.decode()).items()}
    assert (params["name"], params["format"], params["sampleRate"]) == ("profbot-canary.cpu", "folded", "100")
    assert int(params["until"]) - int(params["from"]) == 1
    body = push.content.decode()
    marker = body.split(";")[1].split(" ")[0]
    assert body == f"profbot;{marker} 1\n" and marker != "push_0123456789abcdef"  # new on every push
    assert len(pyroscope.renders) == 3  # the earlier canary's frame did not count
    query = pyroscope.renders[0].url.params
    assert query["query"] == f'{CPU_PROFILE_TYPE}{{service_name="profbot-canary"}}'
    assert (query["from"], query["until"]) == ("now-5m", "now")


async def test_a_refused_push_is_said_and_nothing_is_queried() -> None:
    pyroscope = Pyroscope(push_status=503)
    transport = httpx.MockTransport(pyroscope)
    async with PyroscopeClient("http://user:secret@pyroscope:4040", timeout=5, transport=transport) as client:
        measured = await client.push_latency(within=10)

    assert (measured.pushed, measured.visible, measured.latency_ms) == (False, False, None)
    assert measured.error == "the push answered HTTP 503: ingester unavailable"
    assert measured.url == "http://pyroscope:4040/ingest"  # never the credentials
    assert pyroscope.renders == []


async def test_a_push_that_never_shows_is_not_visible_with_the_last_answer() -> None:
    pyroscope = Pyroscope(render_status=400)  # the render query is refused
    async with PyroscopeClient("http://pyroscope:4040", timeout=5, transport=httpx.MockTransport(pyroscope)) as client:
        measured = await client.push_latency(within=0.3)

    assert (measured.pushed, measured.visible, measured.latency_ms) == (True, False, None)
    assert measured.error == "render answered HTTP 400: invalid query"
    assert measured.within_s == 0.3 and len(pyroscope.renders) >= 1


async def test_no_answer_at_all_is_a_failed_push() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with PyroscopeClient("http://pyroscope:4040", timeout=5, transport=httpx.MockTransport(refused)) as client:
        measured = await client.push_latency(within=10)

    assert (measured.pushed, measured.visible) == (False, False)
    assert measured.error == "the push got no answer: ConnectError"


async def test_every_request_of_the_canary_waits_only_what_is_left_of_its_budget() -> None:
    # The client's own timeout (10 s) is longer than the canary's budget: a slow Pyroscope must
    # read "not visible" within the budget, not overrun it into the job's timeout.
    pyroscope = Pyroscope(shows_after=2)
    async with PyroscopeClient("http://pyroscope:4040", timeout=10, transport=httpx.MockTransport(pyroscope)) as client:
        measured = await client.push_latency(within=2)

    assert measured.visible
    assert len(pyroscope.timeouts) == 4  # the push, the API probe, two renders
    assert all(0 < t <= 2 for t in pyroscope.timeouts)


async def test_on_pyroscope_v0_the_canary_is_queried_by_its_application_name() -> None:
    pyroscope = Pyroscope(shows_after=2, v0=True)
    async with PyroscopeClient("http://pyroscope:4040", timeout=5, transport=httpx.MockTransport(pyroscope)) as client:
        measured = await client.push_latency(within=10)

    assert measured.visible and measured.error is None
    assert [r.url.params["query"] for r in pyroscope.renders] == ["profbot-canary.cpu"] * 2


class SlowRenders(Pyroscope):
    """Renders take ``render_seconds`` to answer: a request given less than that times out, as
    httpx would raise once the request's own read timeout ran out."""

    def __init__(self, render_seconds: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.render_seconds = render_seconds

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/pyroscope/render":
            timeout = request.extensions["timeout"]["read"]
            await asyncio.sleep(min(timeout, self.render_seconds))
            if timeout < self.render_seconds:
                raise httpx.ReadTimeout("timed out", request=request)
        return self(request)


async def test_a_window_that_closes_during_a_render_is_not_visible_not_a_failing_pyroscope() -> None:
    # The ingester lags (the sample never shows) and each render takes 0.3 s: the 1 s window ends
    # during one. What was seen is said, not the cut-short request's timeout.
    pyroscope = SlowRenders(0.3, shows_after=1_000)
    transport = httpx.MockTransport(pyroscope.handle)
    async with PyroscopeClient("http://pyroscope:4040", timeout=5, transport=transport) as client:
        measured = await client.push_latency(within=1)

    assert (measured.pushed, measured.visible, measured.latency_ms) == (True, False, None)
    assert measured.error is None and len(pyroscope.renders) >= 2


@pytest.mark.parametrize(
    ("client_timeout", "within", "said"),
    [
        # each render cut short by the window
        (10, 0.5, r"no render answered in the \d\.\d s the window left for them"),
        # the client's own timeout ran out first (the window leaves the first render all of it)
        (0.2, 2, r"render got no answer: ReadTimeout"),
    ],
)
async def test_renders_that_never_answer_say_why_the_sample_was_not_seen(
    client_timeout: float, within: float, said: str
) -> None:
    pyroscope = SlowRenders(5)
    transport = httpx.MockTransport(pyroscope.handle)
    async with PyroscopeClient("http://pyroscope:4040", timeout=client_timeout, transport=transport) as client:
        measured = await client.push_latency(within=within)

    assert (measured.pushed, measured.visible) == (True, False)
    assert measured.error is not None and re.fullmatch(said, measured.error), measured.error


async def test_an_earlier_failed_render_is_not_the_reason_once_pyroscope_answers() -> None:
    # A 503, then renders that answer without the sample until the window closes during one: the
    # latest answer (no sample yet) is what is said, not the 503 from before.
    statuses = iter([503])

    class Flaky(SlowRenders):
        async def handle(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/pyroscope/render" and next(statuses, 200) == 503:
                self.renders.append(request)
                return httpx.Response(503, text="busy")
            return await super().handle(request)

    pyroscope = Flaky(0.3, shows_after=1_000)
    async with PyroscopeClient(
        "http://pyroscope:4040", timeout=5, transport=httpx.MockTransport(pyroscope.handle)
    ) as c:
        measured = await c.push_latency(within=1.5)

    assert (measured.pushed, measured.visible) == (True, False)
    assert measured.error is None and len(pyroscope.renders) >= 2  # the 503, and an answer after it


async def test_a_window_spent_on_the_api_probe_says_so() -> None:
    class SlowProbe(SlowRenders):  # the probe takes all it is given; a render, 50 ms
        async def handle(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/querier.v1.QuerierService/LabelValues":
                await asyncio.sleep(request.extensions["timeout"]["read"])
                raise httpx.ReadTimeout("timed out", request=request)
            return await super().handle(request)

    pyroscope = SlowProbe(0.05)
    async with PyroscopeClient(
        "http://pyroscope:4040", timeout=5, transport=httpx.MockTransport(pyroscope.handle)
    ) as c:
        measured = await c.push_latency(within=0.5)

    assert (measured.pushed, measured.visible) == (True, False)
    assert measured.error == "the API probe got no answer: ReadTimeout"
