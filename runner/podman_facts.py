"""What a runner's heartbeat says of podman: whether it answers, its containers (where jobs about
them are routed) and its version.

The container list is asked every beat: one list call, a millisecond, and the proof that podman
answers. The version is asked once, then every ``VERSION_REFRESH_SECONDS`` (an upgrade shows within
that) and again after podman failed: podman 4.3's ``/version`` runs its runtime's and conmon's
version commands and took about a second of the service's time on these machines, a load that every
beat would put on the same two cores the operations run on.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from profbot.errors import OperationError
from runner.podman_gateway import PodmanGateway

VERSION_REFRESH_SECONDS = 600.0
PROBE_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class PodmanSeen:
    version: str | None = None
    api_version: str | None = None
    containers: list[str] = field(default_factory=list)
    error: str | None = None


class PodmanFacts:
    def __init__(self, podman: PodmanGateway) -> None:
        self.podman = podman
        self._version: tuple[str | None, str | None] | None = None
        self._asked_at = 0.0

    async def read(self) -> PodmanSeen:
        try:
            containers = await asyncio.wait_for(self.podman.container_names(), timeout=PROBE_TIMEOUT_SECONDS)
        except OperationError as exc:
            return self._failed(str(exc))
        except TimeoutError:
            return self._failed(f"podman did not answer within {PROBE_TIMEOUT_SECONDS:.0f}s")
        except Exception as exc:  # the heartbeat must be written whatever podman-py raised
            return self._failed(f"{type(exc).__name__}: {exc}"[:300])
        if self._version is None or time.monotonic() - self._asked_at > VERSION_REFRESH_SECONDS:
            try:
                version = await asyncio.wait_for(self.podman.version(), timeout=PROBE_TIMEOUT_SECONDS)
            except Exception:  # podman answers (the list did): the version is asked again next beat
                version = None
            if version is not None:
                self._version = (
                    str(version.get("Version") or "") or None,
                    str(version.get("ApiVersion") or "") or None,
                )
                self._asked_at = time.monotonic()
        number, api = self._version or (None, None)
        return PodmanSeen(version=number, api_version=api, containers=containers)

    def _failed(self, error: str) -> PodmanSeen:
        self._version = None  # podman restarted or replaced, perhaps: its version is asked anew
        return PodmanSeen(error=error)
