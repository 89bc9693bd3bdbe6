"""A root directory for ``systemd-analyze --root``: systemd does not run in the test machines (no
PID 1 to load units into), but systemd-analyze checks a unit file offline, with what it refers to
(podman.socket, the targets, the ExecStart binary) looked up under that root, like on a host."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SYSTEM_UNITS = Path("/usr/lib/systemd/system")
UNIT_DIR = Path("etc/systemd/system")


def systemd_root(root: Path) -> Path:
    """``root`` with the machine's own units (the targets, podman.socket) in its /usr/lib/systemd/system."""
    if shutil.which("systemd-analyze") is None or not (SYSTEM_UNITS / "podman.socket").exists():
        raise RuntimeError("systemd and podman are not installed: run `make test` (it installs the system packages)")
    shutil.copytree(SYSTEM_UNITS, root / SYSTEM_UNITS.relative_to("/"), symlinks=True, dirs_exist_ok=True)
    (root / UNIT_DIR).mkdir(parents=True, exist_ok=True)
    return root


def analyze(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze ARGS`` on the units installed under ``root``."""
    return subprocess.run(
        ["systemd-analyze", *args[:1], f"--root={root}", *args[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
