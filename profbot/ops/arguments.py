"""What an operation's arguments may be: names by podman's own rule, and fixed allowlists for
paths, URLs, env names, processes and packages, so an argument can select among known things but
never inject a new one (nothing of it ever reaches a shell)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from profbot.settings import NAME_PATTERN

# Container, service and volume names: podman's own rule, so nothing else (spaces, `;`, `/`)
# can ever reach an argument list.
ResourceName = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=128)]

KnownFile = Literal["/tmp/profiler.log", "/etc/pyroscope/server.yml"]  # noqa: S108 - a path inside the container
PROFILER_LOG: KnownFile = "/tmp/profiler.log"  # noqa: S108 - the runbook's profiler log, inside a container
KnownDiskPath = Literal["/data"]
KnownEnvName = Literal["SERVICE_NAME", "PROFILE_INTERVAL", "PYROSCOPE_ENABLED", "PYROSCOPE_URL"]
KnownProcess = Literal["py-spy", "pyroscope"]
KnownProbeURL = Literal["http://pyroscope:4040/ready"]
KnownPackage = Literal["pyroscope-io"]
KnownTool = Literal["py-spy"]
# A log filter is matched as plain text, case-insensitively (the runbook's `grep -i`).
LogFilter = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[\w .:,/=-]+$")]
# Pyroscope's duration syntax: [0-9]+(ns|us|µs|ms|s|m|h|d|w|y)
Duration = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,4}(h|d|w)$")]
ImageTag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
# An image reference as compose files write it (registry/repository:tag): shown, never run.
ImageRef = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._/:@-]{0,254}$")]
