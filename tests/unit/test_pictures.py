"""A profile's analysis and pictures: the flamebearer encoding, what the analysis reads off it, and
the PNGs drawn from it and from the data volume's history."""

from __future__ import annotations

import struct

import pytest

from bot.pictures import flamegraph_png, storage_chart_png
from handlers.findings import MB, StorageHistory
from handlers.profile_analysis import (
    Frame,
    FunctionShare,
    flamegraph_alt_text,
    frames,
    hottest_path,
    text_flamegraph,
    top_functions,
    top_functions_table,
)
from handlers.profile_units import amount
from profbot.jobs import VolumeSample
from profbot.ops.pyroscope import CPU_PROFILE_TYPE, FlameProfile
from tests.standins.flamebearer import encode, parse_folded, synthetic_stacks

START = 1_764_090_000.0  # 2025-11-25 17:00 UTC

# main calls gc and handle; "encode" runs under both, so its self time comes from two callers.
STACKS = {
    "main;handle;parse": 50,
    "main;handle;encode": 20,
    "main;handle": 5,
    "main;gc;encode": 15,
    "main;gc": 10,
}


def profile_of(stacks: dict[str, int], service: str = "checkout") -> FlameProfile:
    bearer = encode(stacks)
    return FlameProfile(
        service=service, profile_type=CPU_PROFILE_TYPE, start=START, end=START + 900, num_ticks=bearer["numTicks"],
        max_self=bearer["maxSelf"], names=bearer["names"], levels=bearer["levels"], ui_url="http://pyroscope:4040/",
    )  # fmt: skip


def empty_profile() -> FlameProfile:
    return FlameProfile(
        service="checkout", profile_type=CPU_PROFILE_TYPE, start=START, end=START + 900, num_ticks=0,
        ui_url="http://pyroscope:4040/",
    )  # fmt: skip


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


# ---------------------------------------------------------------------------- the stand-in's encoding


def test_encode_matches_pyroscopes_own_golden_flamebearer() -> None:
    # pkg/model/flamegraph_test.go, Test_ExportToFlamebearer: the same three stacks.
    bearer = encode({"a;b;e": 1, "a;c": 2, "a;c;d": 1})
    assert bearer == {
        "names": ["total", "a", "c", "d", "b", "e"],
        "levels": [[0, 4, 0, 0], [0, 4, 0, 1], [0, 1, 0, 4, 0, 3, 2, 2], [0, 1, 1, 5, 2, 1, 1, 3]],
        "numTicks": 4,
        "maxSelf": 2,
    }


def test_decoded_frames_sit_where_the_stacks_put_them() -> None:
    decoded = {(f.depth, f.name): f for f in frames(profile_of(STACKS))}
    assert decoded[(0, "total")] == Frame(depth=0, x=0, total=100, self_ticks=0, name="total")
    assert decoded[(1, "main")] == Frame(depth=1, x=0, total=100, self_ticks=0, name="main")
    # Children in name order, each after its parent's self ticks: gc [0, 25), handle [25, 100).
    assert decoded[(2, "gc")] == Frame(depth=2, x=0, total=25, self_ticks=10, name="gc")
    assert decoded[(2, "handle")] == Frame(depth=2, x=25, total=75, self_ticks=5, name="handle")
    at_depth_3 = sorted((f.x, f.total, f.self_ticks, f.name) for f in frames(profile_of(STACKS)) if f.depth == 3)
    assert at_depth_3 == [(10, 15, 15, "encode"), (30, 20, 20, "encode"), (50, 50, 50, "parse")]


def test_every_child_lies_within_its_parent_in_a_large_profile() -> None:
    decoded = frames(profile_of(synthetic_stacks(2000)))
    assert len(decoded) == 2001  # the root and exactly the frames asked for
    by_depth: dict[int, list[Frame]] = {}
    for f in decoded:
        by_depth.setdefault(f.depth, []).append(f)
    for depth, level in by_depth.items():
        if depth == 0:
            continue
        for f in level:
            parents = [p for p in by_depth[depth - 1] if p.x <= f.x and f.x + f.total <= p.x + p.total]
            assert len(parents) == 1, f


def test_parse_folded_sums_repeats_and_skips_what_is_not_a_stack() -> None:
    text = "main;handle;parse 12\n\nmain;handle;parse 3\nmain;gc 4\nno count here\nmain;;gc 2\nmain x\n main;io 7 \n"
    assert parse_folded(text) == {"main;handle;parse": 15, "main;gc": 4, "main;io": 7}


# ---------------------------------------------------------------------------- analysis


def test_top_functions_sum_self_time_over_every_caller() -> None:
    assert top_functions(profile_of(STACKS)) == [
        FunctionShare("parse", 50, 0.5),
        FunctionShare("encode", 35, 0.35),  # 20 under handle + 15 under gc
        FunctionShare("gc", 10, 0.1),
        FunctionShare("handle", 5, 0.05),
    ]
    assert [f.name for f in top_functions(profile_of(STACKS), n=2)] == ["parse", "encode"]


def test_top_functions_break_ties_by_name() -> None:
    assert [f.name for f in top_functions(profile_of({"m;b": 5, "m;a": 5, "m;c": 7}))] == ["c", "a", "b"]


def test_hottest_path_follows_the_widest_callee() -> None:
    assert hottest_path(profile_of(STACKS)) == ["main", "handle", "parse"]
    # The widest callee, not the first by name and not the one with the most self time.
    assert hottest_path(profile_of({"m;a;x": 10, "m;b": 6, "m;b;y": 5})) == ["m", "b", "y"]


def test_text_flamegraph_is_the_tree_widest_first() -> None:
    assert text_flamegraph(profile_of(STACKS)) == [
        "100.0 %  main",
        " 75.0 %    handle",
        " 50.0 %      parse",
        " 20.0 %      encode",
        " 25.0 %    gc",
        " 15.0 %      encode",
    ]


def test_text_flamegraph_prunes_narrow_frames_with_their_callees() -> None:
    lines = text_flamegraph(profile_of(STACKS), min_share=0.2)
    assert lines == ["100.0 %  main", " 75.0 %    handle", " 50.0 %      parse", " 20.0 %      encode", " 25.0 %    gc"]


def test_text_flamegraph_says_how_many_lines_it_left_out() -> None:
    lines = text_flamegraph(profile_of(STACKS), max_lines=4)
    assert lines == ["100.0 %  main", " 75.0 %    handle", " 50.0 %      parse", "… 3 more frames above 1 % left out"]
    assert len(text_flamegraph(profile_of(synthetic_stacks(5000)), max_lines=30, min_share=0)) == 30


def test_top_functions_table_lines_up_and_cuts_long_names() -> None:
    long_name = "com.example.checkout.PaymentService$Inner.processPaymentWithRetries"  # 67 characters
    table = top_functions_table(profile_of({f"main;{long_name}": 1200, "main;gc": 34}))
    assert (
        table
        == [  # 100 Hz samples: 1,200 of them are 12 s
            "#    share  self time  function",
            "1   97.2 %    12.00 s  " + long_name[:59] + "…",
            "2    2.8 %     340 ms  gc",
        ]
    )
    assert len(table[1].split("  ")[-1]) == 60


def test_alt_text_names_service_window_and_top_three() -> None:
    text = flamegraph_alt_text(profile_of(STACKS))
    assert text == (
        "Flamegraph of checkout (process_cpu:cpu, 1.00 s) from 2025-11-25 17:00 to 17:15 UTC; "
        "most self time in parse 50.0 %, encode 35.0 %, gc 10.0 %."
    )
    many = {f"main;{'f' * 300}{i}": 10 + i for i in range(10)}
    assert len(flamegraph_alt_text(profile_of(many, service="s" * 500))) <= 1000


def test_amounts_are_read_in_the_units_pyroscope_gives() -> None:
    v1_cpu = profile_of(STACKS).model_copy(update={"sample_rate": 10**9})  # ticks are nanoseconds of CPU
    assert amount(v1_cpu, 12_500_000_000) == "12.50 s" and amount(v1_cpu, 4_000_000) == "4 ms"
    wall = profile_of(STACKS).model_copy(update={"units": "nanoseconds"})
    assert amount(wall, 250 * 10**9) == "250 s"
    objects = profile_of(STACKS).model_copy(update={"units": "objects"})
    assert amount(objects, 1234) == "1,234 objects"


def test_an_empty_profile_has_nothing_to_say_but_says_so() -> None:
    profile = empty_profile()
    assert frames(profile) == []
    assert top_functions(profile) == []
    assert hottest_path(profile) == []
    assert text_flamegraph(profile) == []
    assert top_functions_table(profile) == []
    assert flamegraph_alt_text(profile) == "No profiling samples for checkout from 2025-11-25 17:00 to 17:15 UTC."
    with pytest.raises(ValueError, match="no samples"):
        flamegraph_png(profile)


# ---------------------------------------------------------------------------- pictures


def test_flamegraph_png_of_a_small_profile() -> None:
    png = flamegraph_png(profile_of(STACKS))
    width, height = png_size(png)
    assert width == 1600
    assert 4 * 17 <= height < 400  # four levels of frames, a title, no empty acres
    assert png_size(flamegraph_png(profile_of(STACKS), width_px=800))[0] == 1200


def test_flamegraph_png_of_ten_thousand_frames_stays_under_a_megabyte() -> None:
    # How fast it draws is measured by bench/pictures.py, not asserted here.
    profile = profile_of(synthetic_stacks(10_000))
    assert len(frames(profile)) == 10_001
    png = flamegraph_png(profile)
    assert png_size(png)[0] >= 1200
    assert len(png) < 1_000_000


def history(count: int, **overrides: object) -> StorageHistory:
    samples = [VolumeSample(at=START + i * 3600, size_bytes=2_000_000_000 + i * 10 * MB) for i in range(count)]
    base: dict[str, object] = {"volume": "pyroscope_data", "samples": samples}
    base.update(overrides)
    return StorageHistory.model_validate(base)


def test_storage_chart_needs_two_samples() -> None:
    assert storage_chart_png(history(0)) is None
    assert storage_chart_png(history(1)) is None


def test_storage_chart_with_a_trend_and_a_capacity() -> None:
    full = history(48, growth_per_day=240 * MB, capacity_bytes=10_000_000_000, used_bytes=3_000_000_000)
    assert full.projected_full_at is not None
    png = storage_chart_png(full, now=START + 48 * 3600)
    assert png is not None
    width, _ = png_size(png)
    assert width >= 1200
    assert len(png) < 1_000_000


def test_storage_chart_without_a_trend_yet() -> None:
    png = storage_chart_png(history(3), now=START)
    assert png is not None
    png_size(png)
