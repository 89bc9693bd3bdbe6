"""What a service's merged profile says, read off its flamebearer: the frames, the functions with
the most self time, the hottest call path, and text versions of them (a tree, a table, an alt text).
Pure and front-end neutral: a front end puts the lines in a code block, or draws the frames."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from handlers.profile_units import amount as amount  # re-exported: what the front ends show amounts with
from handlers.profile_units import measure_of
from profbot.ops.pyroscope import FlameProfile

NAME_WIDTH = 60  # a function name in the table, at most
NO_NAME = "(no name)"  # what a frame without a function name is shown as (.NET's profiler gives some)
ALT_TEXT_LIMIT = 1000  # Slack's limit for an image's alt text (image block)


@dataclass(frozen=True)
class Frame:
    """One frame of a flamegraph: a function at a depth, spanning ``[x, x + total)`` in ticks."""

    depth: int
    x: int
    total: int
    self_ticks: int
    name: str


@dataclass(frozen=True)
class FunctionShare:
    """A function's self time over the whole profile, and its share (0..1) of all samples."""

    name: str
    self_ticks: int
    share: float


class Node:
    """A frame with its children (callees), widest first."""

    __slots__ = ("children", "frame")

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.children: list[Node] = []


def is_empty(profile: FlameProfile) -> bool:
    """Whether the profile holds no samples at all."""
    return profile.num_ticks <= 0 or not profile.levels or not profile.levels[0]


def frames(profile: FlameProfile) -> list[Frame]:
    """Every frame, level by level from the root, with x offsets decoded to absolute ticks."""
    return [frame for level in frames_by_depth(profile) for frame in level]


def frames_by_depth(profile: FlameProfile) -> list[list[Frame]]:
    """The frames per depth, each level ordered by x (as the flamebearer stores them)."""
    if is_empty(profile):
        return []
    names = profile.names
    levels: list[list[Frame]] = []
    for depth, values in enumerate(profile.levels):
        level: list[Frame] = []
        end = 0
        for i in range(0, len(values) - 3, 4):
            offset, total, self_ticks, index = values[i : i + 4]
            x = end + offset
            name = names[index] if 0 <= index < len(names) else f"<unknown #{index}>"
            level.append(Frame(depth, x, total, self_ticks, name))
            end = x + total
        levels.append(level)
    return levels


def call_tree(profile: FlameProfile) -> Node | None:
    """The root frame with its callees, each node's children widest first (then by name); None for
    an empty profile."""
    return tree_of(frames_by_depth(profile))


def tree_of(levels: list[list[Frame]]) -> Node | None:
    """The call tree of frames given per depth (as ``frames_by_depth`` returns them)."""
    if not levels or not levels[0]:
        return None
    parents = [Node(frame) for frame in levels[0]]
    root = parents[0]
    for level in levels[1:]:
        # Both levels are ordered by x and children lie within their parent's span: one sweep.
        nodes = [Node(frame) for frame in level]
        p = 0
        for node in nodes:
            x = node.frame.x
            while p < len(parents) and parents[p].frame.x + parents[p].frame.total <= x:
                p += 1
            if p < len(parents) and parents[p].frame.x <= x:
                parents[p].children.append(node)
        parents = nodes
    pending = [root]
    while pending:
        node = pending.pop()
        if len(node.children) > 1:
            node.children.sort(key=_widest_first)
        pending.extend(node.children)
    return root


def _widest_first(node: Node) -> tuple[int, str, int]:
    return -node.frame.total, node.frame.name, node.frame.x


def hottest_frames(root: Node | None) -> list[Frame]:
    """The frames on the hottest path below ``root``: the widest callee at each depth."""
    path: list[Frame] = []
    node = root
    while node is not None and node.children:
        node = node.children[0]
        path.append(node.frame)
    return path


def top_functions(profile: FlameProfile, n: int = 10) -> list[FunctionShare]:
    """The ``n`` functions with the most self time, summed over every place they are called from
    (the root excluded), most first, then by name."""
    if is_empty(profile):
        return []
    self_by_name: dict[str, int] = defaultdict(int)
    for frame in frames(profile):
        if frame.depth > 0 and frame.self_ticks > 0:
            self_by_name[frame.name] += frame.self_ticks
    ranked = sorted(self_by_name.items(), key=lambda item: (-item[1], item[0]))[:n]
    return [FunctionShare(name, ticks, ticks / profile.num_ticks) for name, ticks in ranked]


def hottest_path(profile: FlameProfile) -> list[str]:
    """The function names from the root down, following the widest callee at each depth (the
    root itself excluded)."""
    return [frame.name for frame in hottest_frames(call_tree(profile))]


def text_flamegraph(profile: FlameProfile, max_lines: int = 30, min_share: float = 0.01) -> list[str]:
    """The call tree as text, hottest paths first: one line a frame, ``"{share:5.1f} %  {name}"``
    with the name indented two spaces a depth (so the shares stay in one column); callees widest
    first; frames under ``min_share`` of all samples left out with their callees; at most
    ``max_lines`` lines, the last saying how many more frames there were."""
    root = call_tree(profile)
    if root is None or max_lines <= 0:
        return []
    limit = min_share * profile.num_ticks
    lines: list[str] = []
    pending = [node for node in reversed(root.children) if node.frame.total >= limit]
    while pending:
        node = pending.pop()
        share = 100 * node.frame.total / profile.num_ticks
        lines.append(f"{share:5.1f} %  {'  ' * (node.frame.depth - 1)}{display_name(node.frame.name)}")
        pending.extend(child for child in reversed(node.children) if child.frame.total >= limit)
    if len(lines) > max_lines:
        left_out = len(lines) - (max_lines - 1)
        lines = lines[: max_lines - 1]
        frames_word = "frame" if left_out == 1 else "frames"
        lines.append(f"… {left_out} more {frames_word} above {100 * min_share:g} % left out")
    return lines


def top_functions_table(profile: FlameProfile, n: int = 10) -> list[str]:
    """The top functions by self time as a monospace table: a header line, then rank, self share,
    self amount in the profile's unit (time, bytes or a count) and name (cut with an ellipsis at
    NAME_WIDTH characters) a line."""
    top = top_functions(profile, n)
    if not top:
        return []
    rank_width = max(1, len(str(len(top))))
    amounts = [amount(profile, f.self_ticks) for f in top]
    column = measure_of(profile).self_column
    amount_width = max(len(column), *(len(a) for a in amounts))
    header = f"{'#':>{rank_width}}  {'share':>7}  {column:>{amount_width}}  function"
    shown = [shorten(display_name(f.name), NAME_WIDTH) for f in top]
    rows = [
        f"{rank:>{rank_width}}  {100 * f.share:5.1f} %  {a:>{amount_width}}  {name}"
        for rank, (f, a, name) in enumerate(zip(top, amounts, shown, strict=True), 1)
    ]
    return [header, *rows]


def top_functions_title(profile: FlameProfile) -> str:
    """What the top-functions table ranks by: "Top functions of checkout by self time" (or self
    bytes, self objects: the profile's unit)."""
    return f"Top functions of {profile.service} by {measure_of(profile).self_column}"


def flamegraph_alt_text(profile: FlameProfile) -> str:
    """One sentence for a flamegraph picture's alt text: the service, the window and the three
    frames with the most self time (at most ALT_TEXT_LIMIT characters)."""
    service = shorten(profile.service, 100)
    window = window_text(profile.start, profile.end)
    if is_empty(profile):
        return f"No profiling samples for {service} from {window}."
    top = top_functions(profile, 3)
    kind = short_profile_type(profile.profile_type)
    sentence = f"Flamegraph of {service} ({kind}, {amount(profile, profile.num_ticks)}) from {window}"
    if top:
        listed = ", ".join(f"{shorten(display_name(f.name), 200)} {100 * f.share:.1f} %" for f in top)
        sentence += f"; most {measure_of(profile).self_column} in {listed}"
    return shorten(sentence + ".", ALT_TEXT_LIMIT)


def window_text(start: float, end: float) -> str:
    """The window in UTC, e.g. "2026-11-25 17:00 to 17:15 UTC" (the end's date when it differs)."""
    first = datetime.fromtimestamp(start, UTC)
    last = datetime.fromtimestamp(end, UTC)
    end_format = "%H:%M" if first.date() == last.date() else "%Y-%m-%d %H:%M"
    return f"{first:%Y-%m-%d %H:%M} to {last.strftime(end_format)} UTC"


def short_profile_type(profile_type: str) -> str:
    """The readable part of a profile type: "process_cpu:cpu:nanoseconds:cpu:nanoseconds" -> "process_cpu:cpu"."""
    return ":".join(profile_type.split(":")[:2]) or "profile"


def display_name(name: str) -> str:
    """A function's name as shown: "(no name)" for one a profiler left empty or blank."""
    return name if name.strip() else NO_NAME


def shorten(text: str, width: int) -> str:
    """The text cut to ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"
