"""What a profile's ticks are, and an amount of them in words: CPU and wall time as time, memory
as bytes, everything else as a count of what was counted.

Pyroscope v1's render answer says it in its metadata (``units``, ``sampleRate``), as its
ExportToFlamebearer writes them: a CPU profile (sample type ``cpu``) in "samples" at a rate of
1e9, so a tick is a nanosecond; the ``inuse_objects``, ``alloc_objects``, ``goroutine`` and
``samples`` types in "objects"; every other type in its own sample unit ("nanoseconds", "bytes",
"count"), at a rate of 100. A v0 server gives CPU in "samples" at the profiler's rate (100 Hz),
and "lock_nanoseconds", "lock_samples", "goroutines" for Go's mutex and goroutine profiles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from profbot.ops.pyroscope import FlameProfile

TIME_UNITS = {"nanoseconds": 1e-9, "lock_nanoseconds": 1e-9, "microseconds": 1e-6, "milliseconds": 1e-3, "seconds": 1}
BYTE_UNITS = {"bytes"}
# What a count counts, by the profile type's sample type (the second part of its id): v1 says
# "objects" or "count", which alone reads oddly for CPU samples or exceptions.
COUNTED = {
    "inuse_objects": "objects",
    "alloc_objects": "objects",
    "alloc_in_new_tlab_objects": "objects",
    "goroutine": "goroutines",
    "samples": "samples",
    "cpu_samples": "samples",
    "alloc_samples": "samples",
    "contentions": "contentions",
    "lock_count": "lock acquisitions",
    "exception": "exceptions",
}
BINARY_PREFIXES = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


@dataclass(frozen=True)
class Measure:
    """What one tick of a profile is: ``seconds`` of time, a byte, or one of ``noun``."""

    kind: Literal["time", "bytes", "count"]
    seconds: float = 0.0  # a tick's length, for time
    noun: str = ""  # what is counted, for a count

    @property
    def self_column(self) -> str:
        """The top-functions table's header for a function's own amount."""
        return {"time": "self time", "bytes": "self bytes"}.get(self.kind, f"self {self.noun}")


def measure_of(profile: FlameProfile) -> Measure:
    """What the profile's ticks are, from Pyroscope's metadata (its ``units`` and sample rate)
    and, where the metadata leaves it open, the profile type's sample type."""
    units = profile.units.strip().lower()
    sample_type = profile.sample_type or [*profile.profile_type.split(":"), ""][1]
    if units == "samples":
        # CPU samples at sampleRate Hz: v1's 1e9 makes a tick a nanosecond, v0's 100 a 10 ms sample.
        return Measure("time", seconds=1 / (profile.sample_rate if profile.sample_rate > 0 else 100))
    if units in TIME_UNITS:
        return Measure("time", seconds=TIME_UNITS[units])
    if units in BYTE_UNITS:
        return Measure("bytes")
    if units == "lock_samples":
        return Measure("count", noun="samples")
    noun = COUNTED.get(sample_type) or (units if units not in ("", "count") else sample_type.replace("_", " "))
    return Measure("count", noun=noun or "counted")


def amount(profile: FlameProfile, ticks: int) -> str:
    """``ticks`` of this profile in words, in its unit: "11.10 s", "340 ms", "1.50 GiB", "1,234 objects"."""
    measure = measure_of(profile)
    if measure.kind == "time":
        return duration_text(ticks * measure.seconds)
    if measure.kind == "bytes":
        return bytes_text(ticks)
    return f"{count_text(ticks)} {measure.noun}"


def duration_text(seconds: float) -> str:
    """A span of time: "12.50 s", "1,234 s" and "2.5 h" for long ones, "340 ms", "85 µs", "120 ns"."""
    size = abs(seconds)
    if size == 0:
        return "0 s"
    if size >= 3600:
        return f"{seconds / 3600:,.1f} h"
    if size >= 100:
        return f"{seconds:,.0f} s"
    if size >= 1:
        return f"{seconds:.2f} s"
    if size >= 1e-3:
        return f"{seconds * 1e3:.0f} ms"
    if size >= 1e-6:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1e9:.0f} ns"


def bytes_text(count: float) -> str:
    """A size in binary units, three figures: "512 B", "1.50 KiB", "15.0 MiB", "150 GiB"."""
    value, prefix = float(count), 0
    while abs(value) >= 1024 and prefix < len(BINARY_PREFIXES) - 1:
        value, prefix = value / 1024, prefix + 1
    if prefix == 0:
        return f"{count:,.0f} B"
    digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
    return f"{value:.{digits}f} {BINARY_PREFIXES[prefix]}"


def count_text(count: int) -> str:
    """A count: exact below a million ("1,234"), then "12.3 million", "4.56 billion"."""
    for scale, word in ((10**12, "trillion"), (10**9, "billion"), (10**6, "million")):
        if abs(count) >= scale:
            value = count / scale
            digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
            return f"{value:.{digits}f} {word}"
    return f"{count:,}"
