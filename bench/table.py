"""The one table `make bench` ends with: figure, target, measured, verdict.

Each benchmark's ``main()`` returns the rows it measured; ``bench/__main__.py`` prints them all
at the end, so the README's performance section can quote one table from one run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One figure against its target. ``met`` is decided by the benchmark, which knows the
    direction (lower or higher is better) and, for a ratio, what it compared."""

    figure: str
    target: str
    measured: str
    met: bool
    # An absolute figure whose limit is a ratio row beside it: shown, not judged (milliseconds and
    # webhooks a second do not carry from one shared machine to another).
    informational: bool = False

    @property
    def verdict(self) -> str:
        if self.informational:
            return "(info: met)" if self.met else "(info: not met)"
        return "met" if self.met else "MISSED"

    def as_information(self) -> Row:
        return Row(self.figure, self.target, self.measured, self.met, informational=True)


def at_most(figure: str, measured: float, limit: float, unit: str) -> Row:
    return Row(figure, f"< {limit:g} {unit}".strip(), f"{measured:.1f} {unit}".strip(), measured < limit)


def at_least(figure: str, measured: float, floor: float, unit: str) -> Row:
    return Row(figure, f">= {floor:g} {unit}".strip(), f"{measured:.0f} {unit}".strip(), measured >= floor)


def render(rows: list[Row]) -> str:
    """A Markdown table, so the README can quote it as printed."""
    header = ("figure", "target", "measured", "verdict")
    lines = [header, *((r.figure, r.target, r.measured, r.verdict) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(4)]

    def fmt(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [fmt(line) for line in lines[1:]]
    return "\n".join(out)
