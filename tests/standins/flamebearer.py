"""Folded stacks to Pyroscope's flamebearer, encoded the way Pyroscope v1 encodes it.

Standard library only: the Pyroscope stand-in imports it inside its container as ``import flamebearer``.

What Pyroscope does (pkg/model: ``Tree.InsertStack`` and ``NewFlameGraph``), and so this does too:
- a tree of frames whose children are kept ordered by name (byte order);
- a depth-first walk from the root, named "total"; a frame's own (self) ticks come first in its
  span, its children follow in name order;
- ``names`` in the order the walk meets each function first (so not sorted);
- ``levels[d]``: four integers a frame, ``[x, total, self, name index]``, ordered by x, with x
  delta-encoded: the first frame's from 0, every other's from the end of the frame before it.
"""

from __future__ import annotations

import random
from typing import Any


class _Node:
    """A frame of the call tree: its ticks and its children by name."""

    __slots__ = ("children", "self_ticks", "total")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.self_ticks = 0
        self.total = 0


def _tree(stacks: dict[str, int]) -> _Node:
    """The call tree of folded stacks ("main;handle;parse" -> samples)."""
    return _stack_tree({tuple(stack.split(";")): count for stack, count in stacks.items()})


def _stack_tree(stacks: dict[tuple[str, ...], int]) -> _Node:
    """The call tree of stacks given as tuples of names, root first."""
    root = _Node()
    for stack, count in stacks.items():
        if count <= 0:
            continue  # Pyroscope drops them too (InsertStack with v <= 0)
        node = root
        node.total += count
        for name in stack:
            node = node.children.setdefault(name, _Node())
            node.total += count
        node.self_ticks += count
    return root


def encode(stacks: dict[str, int], max_nodes: int = 0) -> dict[str, Any]:
    """The flamebearer dict (``names``, ``levels``, ``numTicks``, ``maxSelf``) of folded stacks
    ("main;handle;parse" -> samples), as Pyroscope's /pyroscope/render answers it."""
    return encode_stacks({tuple(stack.split(";")): count for stack, count in stacks.items()}, max_nodes)


def encode_stacks(stacks: dict[tuple[str, ...], int], max_nodes: int = 0) -> dict[str, Any]:
    """``encode`` of stacks given as tuples of names, root first: a name may hold a ";" then.
    With ``max_nodes``, as render's max-nodes: when the tree has more frames, those whose total is
    under the max_nodes-th largest are merged, per caller, into one frame "other" after its
    callees (NewFlameGraph with Tree.minValue)."""
    root = _stack_tree(stacks)
    min_value = _min_value(root, max_nodes)
    names: list[str] = []
    name_index: dict[str, int] = {}
    levels: list[list[tuple[int, int, int, int]]] = []
    max_self = 0
    # (x, depth, node, name): a stack, as Pyroscope walks it; the root has no name of its own.
    pending: list[tuple[int, int, _Node, str]] = [(0, 0, root, "")]
    while pending:
        x, depth, node, name = pending.pop()
        max_self = max(max_self, node.self_ticks)
        if name in name_index:
            index = name_index[name]
        else:
            index = len(names)
            if index == 0:
                name = "total"
            name_index[name] = index
            names.append(name)
        if depth == len(levels):
            levels.append([])
        levels[depth].append((x, node.total, node.self_ticks, index))
        child_x, other = x + node.self_ticks, 0
        for child_name in sorted(node.children):
            child = node.children[child_name]
            if child.total < min_value or child_name == "other":
                other += child.total
                continue
            pending.append((child_x, depth + 1, child, child_name))
            child_x += child.total
        if other:
            bucket = _Node()
            bucket.self_ticks = bucket.total = other
            pending.append((child_x, depth + 1, bucket, "other"))
    encoded: list[list[int]] = []
    for level in levels:
        flat: list[int] = []
        end = 0
        for x, total, self_ticks, index in sorted(level):  # the walk met them right to left
            flat += [x - end, total, self_ticks, index]
            end = x + total
        encoded.append(flat)
    return {"names": names, "levels": encoded, "numTicks": root.total, "maxSelf": max_self}


def _min_value(root: _Node, max_nodes: int) -> int:
    """The total a frame needs to be drawn when at most ``max_nodes`` are: 0 when all fit."""
    if max_nodes < 1:
        return 0
    totals: list[int] = []
    pending = list(root.children.values())
    while pending:
        node = pending.pop()
        totals.append(node.total)
        pending.extend(node.children.values())
    if len(totals) <= max_nodes:
        return 0
    return sorted(totals, reverse=True)[max_nodes - 1]


def parse_folded(text: str) -> dict[str, int]:
    """Folded stacks from text, one "a;b;c 12" a line; blank and malformed lines are skipped and
    repeated stacks summed."""
    stacks: dict[str, int] = {}
    for line in text.splitlines():
        stack, _, count = line.strip().rpartition(" ")
        stack = stack.strip()
        if not stack or not count.isdigit() or any(not part for part in stack.split(";")):
            continue
        stacks[stack] = stacks.get(stack, 0) + int(count)
    return stacks


# Function names as real profilers write them, one form a profiler (or a kind of frame).
_FORMS = (
    lambda i: f"handle_{i} (app/views/module{i % 29}.py:{10 + i % 400})",  # py-spy
    lambda i: f"app/services/service{i % 17}.py:{20 + i % 300} - process_{i}",  # pyroscope-rs (Python)
    lambda i: f"github.com/acme/shop/pkg{i % 13}.(*Handler{i % 7}).Serve{i}",  # Go
    lambda i: f"net/http.(*conn).serve.func{i}",  # Go closures
    lambda i: f"com/acme/shop/Order{i % 11}Service$$Lambda${i}/0x0000000800c4b{i:03x}.apply",  # Java
    lambda i: f"System.Collections.Generic.List`1[System.String].Add{i}(String item)",  # .NET
    lambda i: f"gems/rack-2.2.8/lib/rack/utils{i % 5}.rb:{i % 300} - block in each_{i}",  # Ruby (rbspy)
    lambda i: f"std::vector<std::pair<int, std::basic_string<char>>>::emplace_back<int&>{i}(int&)",  # C++
    lambda i: f"{'处理请求' if i % 2 else 'café_brûlé'}_{i} (服务/views.py:{i % 90})",  # non-ASCII
    lambda i: "[unknown]" if i == 9 else f"tokio::runtime::task::harness::Harness<T,S>::poll_{i}",  # Rust
)


def real_frame_names(count: int) -> list[str]:
    """``count`` distinct function names in the forms py-spy, pyroscope-rs, Go, Java, .NET, Ruby,
    C++ and Rust profilers give them, one "[unknown]" and non-ASCII ones among them, in turn."""
    return [_FORMS[i % len(_FORMS)](i) for i in range(count)]


def synthetic_stacks(frames: int, seed: int = 15) -> dict[str, int]:
    """Folded stacks whose flamebearer has exactly ``frames`` frames besides the root: call paths
    of depth 4 to 40 drawn from a few hundred function names in real profilers' forms
    (``real_frame_names``), deterministic for a seed."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    vocabulary = real_frame_names(600)
    prefixes: set[tuple[str, ...]] = set()
    stacks: dict[str, int] = {}
    while len(prefixes) < frames:
        depth = rng.randint(4, 40)
        # A skewed pick per depth, so paths share prefixes as real call stacks do.
        path = tuple(vocabulary[min(int(rng.paretovariate(1.2)) - 1 + d * 7, 599)] for d in range(depth))
        fresh = [path[:d] for d in range(1, depth + 1) if path[:d] not in prefixes]
        room = frames - len(prefixes)
        if len(fresh) > room:
            path = fresh[room - 1]  # fresh prefixes are nested: the first `room` end at this one
            fresh = fresh[:room]
        prefixes.update(fresh)
        key = ";".join(path)
        stacks[key] = stacks.get(key, 0) + min(int(rng.paretovariate(1.0) * 10), 5000)  # a few hot stacks
    return stacks
