"""deploy/profbot-runner.service as the kernel would apply it to the runner, for tests that run the
runner's code in a child process under the unit's own limits: its capability sets (for setpriv) and
the system calls its seccomp filter lets through (resolved by systemd-analyze, as systemd does).

systemd is not PID 1 on the test machines, so the limits are applied the way systemd applies them
before exec: the bounding set and no_new_privs by setpriv; the seccomp filter is checked against the
system calls the child made (strace), since no tool here installs a systemd-style filter."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "profbot-runner.service"


def directives() -> list[tuple[str, str]]:
    """The unit's ``Key=value`` lines, in order (a key may repeat)."""
    found = []
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.append((key, value))
    return found


def capability_set(key: str) -> list[str]:
    """``CAP_X`` names the unit's ``key`` (CapabilityBoundingSet, AmbientCapabilities) holds."""
    values = [value for k, value in directives() if k == key]
    return sorted({name for value in values for name in value.split()})


def setpriv(bounding: list[str] | None = None) -> list[str]:
    """setpriv's argv prefix for a root process limited as the unit limits the runner."""
    bounding = capability_set("CapabilityBoundingSet") if bounding is None else bounding
    ambient = capability_set("AmbientCapabilities")

    def caps(names: list[str]) -> str:
        return ",".join(["-all", *(f"+{name.removeprefix('CAP_').lower()}" for name in names)])

    return ["setpriv", f"--bounding-set={caps(bounding)}", "--inh-caps=" + caps(ambient),
            "--ambient-caps=" + caps(ambient), "--no-new-privs"]  # fmt: skip


def capability_mask(names: list[str]) -> int:
    """The CapEff bits of ``names`` (numbers from the kernel's list, as capsh knows them)."""
    mask = 0
    for name in names:
        out = subprocess.run(["capsh", f"--explain={name.lower()}"], capture_output=True, text=True, check=True)
        mask |= 1 << int(re.search(r"\((\d+)\)", out.stdout)[1])  # type: ignore[index]
    return mask


@cache
def _group(name: str) -> frozenset[str]:
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True)
    calls: set[str] = set()
    for line in out.stdout.splitlines()[1:]:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        calls |= _group(entry) if entry.startswith("@") else {entry}
    return frozenset(calls)


def _names(value: str) -> set[str]:
    calls: set[str] = set()
    for entry in value.split():
        calls |= _group(entry) if entry.startswith("@") else {entry}
    return calls


def allowed_syscalls() -> set[str]:
    """What the unit's SystemCallFilter= lines let through, applied in order as systemd does: the
    first line an allow-list, then ``~`` lines take calls out and plain lines put them back."""
    allowed: set[str] = set()
    for key, value in directives():
        if key != "SystemCallFilter":
            continue
        if value.startswith("~"):
            allowed -= _names(value[1:])
        else:
            allowed |= _names(value)
    return allowed


def syscalls_after_exec(trace: str, program: str) -> set[str]:
    """The system calls in an ``strace -f`` log made after ``program`` was executed (what setpriv
    did before is what systemd does itself, outside the filter)."""
    calls: set[str] = set()
    started = False
    for line in trace.splitlines():
        match = re.match(r"^(?:\d+\s+)?([a-z0-9_]+)\(", line)
        if match is None:
            continue
        if not started:
            started = match[1] == "execve" and f'execve("{program}"' in line and "= 0" in line
            continue
        calls.add(match[1])
    return calls
