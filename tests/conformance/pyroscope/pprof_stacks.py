"""Folded stacks out of a pprof profile (gzipped protobuf), for rebuilding the corpus: the few
fields of profile.proto a flamegraph needs, read with a protobuf wire-format reader of a few
lines (the corpus is rebuilt rarely; a protobuf dependency for it would be more than it needs).

Stacks are named as Pyroscope names them (pkg/model: a frame per function name, a location's
inlined lines innermost first in the file, so reversed; the root first)."""

from __future__ import annotations

import gzip
from collections import defaultdict
from collections.abc import Iterator


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            yield number, value
        elif wire == 2:
            length, i = _varint(data, i)
            yield number, data[i : i + length]
            i += length
        elif wire == 1:
            yield number, int.from_bytes(data[i : i + 8], "little")
            i += 8
        elif wire == 5:
            yield number, int.from_bytes(data[i : i + 4], "little")
            i += 4
        else:
            raise ValueError(f"wire type {wire} is not in profile.proto")


def _ints(value: int | bytes) -> list[int]:
    """A repeated integer field: packed (bytes) or one value."""
    if isinstance(value, int):
        return [value]
    out, i = [], 0
    while i < len(value):
        v, i = _varint(value, i)
        out.append(v - (1 << 64) if v >= 1 << 63 else v)
    return out


def sample_types(raw: bytes) -> list[tuple[str, str]]:
    """The profile's sample types: (type, unit), e.g. ("alloc_space", "bytes")."""
    profile = _decoded(raw)
    return [(profile.strings[t], profile.strings[u]) for t, u in profile.types]


class _Profile:
    def __init__(self) -> None:
        self.types: list[tuple[int, int]] = []
        self.samples: list[tuple[list[int], list[int]]] = []
        self.locations: dict[int, list[int]] = {}  # location id -> function ids, innermost first
        self.functions: dict[int, int] = {}  # function id -> name index
        self.strings: list[str] = []


def _decoded(raw: bytes) -> _Profile:
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    profile = _Profile()
    for number, value in _fields(data):
        if number == 1 and isinstance(value, bytes):
            vt = dict(_fields(value))
            profile.types.append((int(vt.get(1, 0)), int(vt.get(2, 0))))
        elif number == 2 and isinstance(value, bytes):
            ids: list[int] = []
            values: list[int] = []
            for n, v in _fields(value):
                if n == 1:
                    ids += _ints(v)
                elif n == 2:
                    values += _ints(v)
            profile.samples.append((ids, values))
        elif number == 4 and isinstance(value, bytes):
            location_id, functions = 0, []
            for n, v in _fields(value):
                if n == 1:
                    location_id = int(v)
                elif n == 4 and isinstance(v, bytes):
                    functions.append(int(dict(_fields(v)).get(1, 0)))
            profile.locations[location_id] = functions
        elif number == 5 and isinstance(value, bytes):
            fn = dict(_fields(value))
            profile.functions[int(fn.get(1, 0))] = int(fn.get(2, 0))
        elif number == 6 and isinstance(value, bytes):
            profile.strings.append(value.decode("utf-8", "replace"))
    return profile


def folded(raw: bytes, sample_type: str) -> dict[tuple[str, ...], int]:
    """The profile's stacks (root first) with their summed values of ``sample_type``."""
    profile = _decoded(raw)
    names = [profile.strings[t] for t, _ in profile.types]
    column = names.index(sample_type)
    stacks: dict[tuple[str, ...], int] = defaultdict(int)
    for ids, values in profile.samples:
        frames: list[str] = []
        for location_id in ids:  # leaf first
            for function_id in profile.locations.get(location_id, []):
                frames.append(profile.strings[profile.functions.get(function_id, 0)])
        if values[column] > 0 and frames:
            stacks[tuple(reversed(frames))] += values[column]
    return dict(stacks)
