"""`make check`: no module over MAX_LINES lines. A module that grows past it has become two things;
split it where a newcomer would look for each."""

from __future__ import annotations

import sys
from pathlib import Path

MAX_LINES = 400


def main(packages: list[str]) -> int:
    too_long = []
    for package in packages:
        for path in sorted(Path(package).rglob("*.py")):
            lines = len(path.read_text().splitlines())
            if lines > MAX_LINES:
                too_long.append(f"{path}: {lines} lines (at most {MAX_LINES})")
    for line in too_long:
        print(line, file=sys.stderr)
    return 1 if too_long else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
