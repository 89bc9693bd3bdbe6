"""Profiles as real profilers and a real Pyroscope v1 make them: frame names with spaces, brackets
and non-ASCII letters drawn into the flamegraph, and every amount shown in its unit (time, bytes,
a count) wherever the profile's numbers are shown."""

from __future__ import annotations

import pytest

from bot.pictures import flamegraph_png
from bot.pictures.flamegraph import CHAR_PX, LABEL_PAD_PX, MARGIN_PX
from bot.shell.render import text
from bot.slack.render import render
from bot.usecases.content import ProfileSummary
from handlers.profile_analysis import flamegraph_alt_text, frames, top_functions_table
from handlers.profile_units import amount
from profbot.ops.pyroscope import CPU_PROFILE_TYPE, FlameProfile
from tests.conformance.pyroscope.pixels import ink_columns, pixels
from tests.standins.flamebearer import encode_stacks

START = 1_764_090_000.0  # 2025-11-25 17:00 UTC
MEMORY_ALLOC_SPACE = "memory:alloc_space:bytes:space:bytes"

# One frame name per profiler, in the form it gives them.
REAL_NAMES = [
    "process_request (app/server.py:42)",  # py-spy
    "app/server.py:42 - process_request",  # pyroscope-rs (Python, Ruby, Rust SDKs)
    "net/http.(*conn).serve",  # Go
    "java/util/concurrent/ThreadPoolExecutor$Worker.run",  # Java, async-profiler
    "System.Collections.Generic.List`1[System.String].Add(String item)",  # .NET
    "[unknown]",  # a frame no symbol was found for
    "gems/rack-2.2.8/lib/rack/utils.rb:-1 - block in each",  # Ruby
    "std::vector<std::pair<int, std::basic_string<char>>, std::allocator<std::pair<int, std::string>>>::push_back",
    "处理请求 (服务/视图.py:7)",  # non-ASCII names, beyond DejaVu Sans Mono's letters
    "café.brûler (küche.py:3)",
    "tokio::runtime::task::core::Core<T,S>::poll",  # Rust
]


def profile(stacks: dict[tuple[str, ...], int], **metadata: object) -> FlameProfile:
    bearer = encode_stacks(stacks)
    base: dict[str, object] = dict(
        service="checkout", profile_type=CPU_PROFILE_TYPE, start=START, end=START + 900, num_ticks=bearer["numTicks"],
        max_self=bearer["maxSelf"], names=bearer["names"], levels=bearer["levels"], ui_url="http://pyroscope:4040/",
        units="samples", sample_rate=10**9, sample_type="cpu",
    )  # fmt: skip
    base.update(metadata)
    return FlameProfile.model_validate(base)


@pytest.mark.parametrize("name", REAL_NAMES)
def test_a_real_profilers_frame_name_is_drawn_whole(name: str) -> None:
    # The frame is most of the picture, so its label fits whole: ink runs to its last character.
    p = profile({("main", name): 90, ("main", "gc"): 10})

    png = flamegraph_png(p)

    [frame] = [f for f in frames(p) if f.name == name]
    ink = ink_columns(pixels(png), frame, p)
    start = MARGIN_PX + frame.x * (1600 - 2 * MARGIN_PX) / p.num_ticks + LABEL_PAD_PX
    assert len(ink) > 0, f"no label drawn for {name!r}"
    assert ink.max() >= start + (len(name) - 1) * CHAR_PX, f"{name!r} is cut short"
    assert ink.max() < start + len(name) * CHAR_PX + 1  # and a glyph from a wider font stays in its cell


def test_a_frame_without_a_name_is_shown_as_such() -> None:
    # .NET profiles can carry functions without a name (Pyroscope's dotnet-pprof-73 test data).
    p = profile({("main", ""): 60, ("main", "work"): 40})

    png = flamegraph_png(p)

    [frame] = [f for f in frames(p) if f.name == ""]
    start = MARGIN_PX + frame.x * (1600 - 2 * MARGIN_PX) / p.num_ticks + LABEL_PAD_PX
    assert ink_columns(pixels(png), frame, p).max() >= start + (len("(no name)") - 1) * CHAR_PX
    assert any(row.endswith("  (no name)") for row in top_functions_table(p))
    assert "(no name) 60.0 %" in flamegraph_alt_text(p)


def test_whitespace_and_control_characters_in_a_name_do_not_stop_the_picture() -> None:
    p = profile({("main", "a\tb\u200bc d\u00a0e\x07f"): 10})
    assert flamegraph_png(p)[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------- units

V1 = "pyroscope v1 (ExportToFlamebearer)"


@pytest.mark.parametrize(
    ("profile_type", "units", "rate", "sample_type", "ticks", "said", "column"),
    [
        # CPU: "samples" at a rate of 1e9, a tick is a nanosecond of CPU.
        (CPU_PROFILE_TYPE, "samples", 10**9, "cpu", 11_100_000_000, "11.10 s", "self time"),
        (CPU_PROFILE_TYPE, "samples", 10**9, "cpu", 4_000_000, "4 ms", "self time"),
        ("wall:wall:nanoseconds:wall:nanoseconds", "nanoseconds", 100, "wall", 250 * 10**9, "250 s", "self time"),
        ("wall:wall:nanoseconds:wall:nanoseconds", "nanoseconds", 100, "wall", 9000 * 10**9, "2.5 h", "self time"),
        ("mutex:delay:nanoseconds:contentions:count", "nanoseconds", 100, "delay", 85_000, "85 µs", "self time"),
        # Node.js' wall-clock profiles keep their sample unit.
        ("wall:wall:microseconds:wall:microseconds", "microseconds", 100, "wall", 2_500_000, "2.50 s", "self time"),
        (MEMORY_ALLOC_SPACE, "bytes", 100, "alloc_space", 4, "4 B", "self bytes"),
        (MEMORY_ALLOC_SPACE, "bytes", 100, "alloc_space", 1_610_612_736, "1.50 GiB", "self bytes"),
        ("memory:inuse_space:bytes:space:bytes", "bytes", 100, "inuse_space", 15_728_640, "15.0 MiB", "self bytes"),
        ("memory:alloc_objects:count:space:bytes", "objects", 100, "alloc_objects", 1234, "1,234 objects",
         "self objects"),
        ("memory:alloc_objects:count:space:bytes", "objects", 100, "alloc_objects", 12_345_678,
         "12.3 million objects", "self objects"),
        ("goroutine:goroutine:count:goroutine:count", "objects", 100, "goroutine", 52, "52 goroutines",
         "self goroutines"),
        ("process_cpu:samples:count:cpu:nanoseconds", "objects", 100, "samples", 700, "700 samples", "self samples"),
        ("mutex:contentions:count:contentions:count", "count", 100, "contentions", 7, "7 contentions",
         "self contentions"),
        ("process_cpu:exception:count:cpu:nanoseconds", "count", 100, "exception", 12, "12 exceptions",
         "self exceptions"),
        # A v0 server: CPU samples at the profiler's 100 Hz, and Go's lock profiles.
        (CPU_PROFILE_TYPE, "samples", 100, "", 1200, "12.00 s", "self time"),
        (CPU_PROFILE_TYPE, "lock_nanoseconds", 100, "", 2 * 10**9, "2.00 s", "self time"),
        (CPU_PROFILE_TYPE, "lock_samples", 100, "", 30, "30 samples", "self samples"),
    ],
)  # fmt: skip
def test_amounts_are_shown_in_the_profiles_unit(
    profile_type: str, units: str, rate: int, sample_type: str, ticks: int, said: str, column: str
) -> None:
    p = profile({("main", "work"): ticks}, profile_type=profile_type, units=units, sample_rate=rate,
                sample_type=sample_type)  # fmt: skip

    assert amount(p, ticks) == said
    header, row = top_functions_table(p)
    assert column in header and said in row
    assert f"({p.profile_type.split(':')[0]}:{p.profile_type.split(':')[1]}, {said})" in flamegraph_alt_text(p)


def test_the_summary_says_the_total_in_its_unit_in_slack_and_in_the_shell() -> None:
    p = profile({("main", "alloc"): 1_610_612_736}, profile_type=MEMORY_ALLOC_SPACE, units="bytes", sample_rate=100,
                sample_type="alloc_space")  # fmt: skip

    blocks = render(ProfileSummary(p)).as_kwargs()["blocks"]
    said = " ".join(str(b) for b in blocks)
    shell = text(ProfileSummary(p))

    assert "1.50 GiB in all" in said and "samples" not in said
    assert "1.50 GiB in all" in shell and "samples" not in shell
    assert "self bytes" in said and "self bytes" in shell


def test_a_v1_cpu_summary_says_seconds_not_nanosecond_samples() -> None:
    p = profile({("main", "work"): 11_100_000_000})

    said = " ".join(str(b) for b in render(ProfileSummary(p)).as_kwargs()["blocks"])

    assert "11.10 s in all" in said and "11,100,000,000" not in said
