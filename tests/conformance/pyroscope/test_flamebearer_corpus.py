"""Pyroscope v1's render answers, rebuilt from its own test data, through what profbot does with
one: the runner's reader (over HTTP for the profile types it asks for), the flamegraph PNG, the
report's headline, the Slack and shell summaries and the alt text. What is asserted is what a
person sees: a picture with its frames' names written in, the total in its unit, names intact.
A diff ("double") answer, or any format but "single", is refused with its reason."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from bot.pictures import flamegraph_png
from bot.pictures.flamegraph import MIN_LABEL_CHARS
from bot.shell.render import text
from bot.slack.render import render
from bot.usecases.content import ProfileSummary
from handlers.context import Outcome
from handlers.flamegraph import FlameParams, analyse_profile
from handlers.profile_analysis import (
    display_name,
    flamegraph_alt_text,
    frames,
    frames_by_depth,
    hottest_frames,
    shorten,
    top_functions,
    tree_of,
)
from profbot.errors import OperationError
from profbot.ops.pyroscope import CPU_PROFILE_TYPE, FlameProfile
from runner.pyroscope import PyroscopeClient, read_flamebearer
from tests.conformance.pyroscope import fixture_names, load
from tests.conformance.pyroscope.pixels import ink_columns, label_chars, last_letter_at, pixels

START = 1_764_090_000.0
WIDTH = 1600

# What each profile's total reads as (worked out from numTicks and the metadata's units by hand),
# and the top-functions table's column for a function's own amount.
SEEN = {
    "dotnet-alloc-size": ("54.8 KiB", "self bytes"),  # 56,064 bytes
    "dotnet-cpu": ("3.21 s", "self time"),  # 3,213,000,000 ns of CPU
    "dotnet-empty-names": ("9.08 s", "self time"),
    "go-cpu": ("500 ms", "self time"),
    "go-heap-alloc-objects": ("18.2 billion objects", "self objects"),  # 18,245,264,435
    "go-heap-alloc-space": ("1.98 TiB", "self bytes"),  # 2,180,208,886,994 bytes over the process's life
    "golden-inuse-space": ("4 B", "self bytes"),
    "java-cpu": ("5.02 s", "self time"),
    "nodejs-wall": ("39.67 s", "self time"),  # 39,670,000 µs of wall-clock time
    "python-samples": ("234,084 samples", "self samples"),
    "ruby-cpu": ("2,587 s", "self time"),  # 258,747 samples at 100 Hz, as nanoseconds
    "rust-cpu": ("11.96 s", "self time"),
}
EMPTY = {"dotnet-exceptions"}  # no exception was thrown: nothing to draw
DOUBLE = {"ruby-diff-double"}


def profile_of(name: str) -> FlameProfile:
    fixture = load(name)
    return read_flamebearer(
        fixture["answer"], service="checkout", profile_type=fixture["query"], start=START, end=START + 900,
        ui_url="http://pyroscope:4040/",
    )  # fmt: skip


def test_the_corpus_is_what_this_test_expects() -> None:
    assert set(fixture_names()) == set(SEEN) | EMPTY | DOUBLE
    for name in fixture_names():
        source = load(name)["source"]
        assert source["repository"] == "grafana/pyroscope" and source["file"] and source["test"], name
    sizes = [len(frames(profile_of(name))) for name in SEEN]
    assert max(sizes) > 8000 and sum(size > 1000 for size in sizes) >= 3  # real sizes: thousands of frames


@pytest.mark.parametrize("name", sorted(SEEN))
def test_a_real_profile_is_drawn_with_its_frames_named(name: str) -> None:
    profile = profile_of(name)
    bearer = load(name)["answer"]["flamebearer"]
    assert profile.names == bearer["names"]  # read as sent: nothing renamed, dropped or re-encoded

    png = flamegraph_png(profile, width_px=WIDTH)

    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < 1_000_000
    # Every frame on the hottest path wide enough for a label has its name written in, whole or
    # cut to what fits (the row's ink reaches the last character that fits).
    image, labelled = pixels(png), 0
    for frame in hottest_frames(tree_of(frames_by_depth(profile)))[:79]:
        fits = label_chars(WIDTH, frame, profile)
        if fits < MIN_LABEL_CHARS:
            continue
        ink = ink_columns(image, frame, profile)
        assert len(ink) and ink.max() >= last_letter_at(WIDTH, frame, profile, shorten(display_name(frame.name), fits))
        labelled += 1
    assert labelled >= 3


@pytest.mark.parametrize("name", sorted(SEEN))
def test_a_real_profiles_amounts_are_in_its_unit_and_its_names_intact(name: str) -> None:
    total, column = SEEN[name]
    profile = profile_of(name)

    report = analyse_profile("h1", FlameParams(service="checkout"), Outcome(value=profile))
    slack = render(ProfileSummary(profile)).as_kwargs()
    shell = text(ProfileSummary(profile))

    assert f"checkout, last 15 min: {total} of " in (report.headline or "")
    said = " ".join(str(block) for block in slack["blocks"])
    assert f"{total} in all" in said and f"Top functions of checkout by {column}" in said
    assert f"of {total} in all" in shell and f"Top functions of checkout by {column}:" in shell
    assert f", {total}) from " in flamegraph_alt_text(profile)
    # The function with the most self time, named as the profiler named it, in the shell's table.
    top = top_functions(profile, 1)[0]
    [row] = [line for line in shell.splitlines() if line.lstrip().startswith("1  ")]
    assert row.endswith(display_name(top.name)) or (
        row.endswith("…") and display_name(top.name).startswith(row.split("  ")[-1][:-1])
    )


def test_a_profile_with_nothing_in_it_says_so_and_draws_nothing() -> None:
    profile = profile_of("dotnet-exceptions")

    report = analyse_profile("h1", FlameParams(service="checkout"), Outcome(value=profile))

    assert report.headline == "No profile from checkout in the last 15 min: nothing to draw"
    assert report.profile is None
    with pytest.raises(ValueError, match="no samples"):
        flamegraph_png(profile)


def answering(answer: Any) -> httpx.MockTransport:
    """A Pyroscope whose render answers ``answer`` for every query."""

    def pyroscope(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/pyroscope/render"
        return httpx.Response(200, json=answer)

    return httpx.MockTransport(pyroscope)


@pytest.mark.parametrize("name", sorted(n for n in SEEN if load(n)["query"] == CPU_PROFILE_TYPE))
async def test_the_runner_reads_a_real_cpu_answer_over_http(name: str) -> None:
    fixture = load(name)
    async with PyroscopeClient("http://pyroscope:4040", timeout=5, transport=answering(fixture["answer"])) as client:
        profile = await client.profile("checkout", 15)

    assert profile.profile_type == CPU_PROFILE_TYPE
    assert (profile.units, profile.sample_rate, profile.sample_type) == ("samples", 10**9, "cpu")
    assert profile.num_ticks == fixture["answer"]["flamebearer"]["numTicks"]
    assert frames(profile) == frames(profile_of(name))


async def test_a_diff_answer_is_refused_as_a_diff_not_drawn_as_nonsense() -> None:
    diff = load("ruby-diff-double")["answer"]
    async with PyroscopeClient("http://pyroscope:4040", timeout=5, transport=answering(diff)) as client:
        with pytest.raises(OperationError, match=r'a diff of two profiles \(flamebearer format "double"\)'):
            await client.profile("checkout", 15)


@pytest.mark.parametrize("form", ["tree", "triple", "", None])
def test_a_flamebearer_in_an_unknown_format_is_refused(form: object) -> None:
    answer = copy.deepcopy(load("go-cpu")["answer"])
    answer["metadata"]["format"] = form
    if form in ("", None):  # servers that predate the field: "single"
        assert read_flamebearer(answer, service="s", profile_type=CPU_PROFILE_TYPE, start=0, end=1, ui_url="u")
        return
    with pytest.raises(OperationError, match=rf"format '{form}'; profbot reads \"single\""):
        read_flamebearer(answer, service="s", profile_type=CPU_PROFILE_TYPE, start=0, end=1, ui_url="u")


def test_a_diff_that_claims_to_be_single_is_refused_by_its_levels() -> None:
    answer = copy.deepcopy(load("ruby-diff-double")["answer"])
    answer["metadata"]["format"] = "single"

    with pytest.raises(OperationError, match="not in the single format it claims: level 0 holds 7 values"):
        read_flamebearer(answer, service="s", profile_type=CPU_PROFILE_TYPE, start=0, end=1, ui_url="u")
