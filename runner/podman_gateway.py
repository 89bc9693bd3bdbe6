"""All podman access, through podman-py on the podman socket.

podman-py is synchronous (requests); every call runs in a worker thread with the client's own
HTTP timeout, so a hung socket ties up one thread for at most that long and never the event loop.
Failures leave here as :mod:`profbot.errors` classes.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlparse

import podman
import podman.errors
import requests

from profbot.errors import OperationError, OperationTimeout, PodmanUnavailable, TargetNotFound
from profbot.ops.containers import ContainerState
from runner.redaction import redact_env_value

T = TypeVar("T")

_ZERO_TIME = "0001-01-01"
_FRACTION = re.compile(r"(\.\d+)")


def parse_podman_time(value: str | None) -> datetime | None:
    """podman's RFC 3339 times carry nanoseconds and use year 1 for "never"."""
    if not value or value.startswith(_ZERO_TIME):
        return None
    # Python takes at most microseconds: cut the fraction to six digits, keep the zone.
    value = _FRACTION.sub(lambda m: m.group(1)[:7], value).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def container_state_from_attrs(attrs: dict[str, Any]) -> ContainerState:
    """Map podman's inspect document (libpod API, podman 4.x and 5.x) to a ContainerState."""
    state = attrs.get("State") or {}
    # podman 4.x and 5.x call it Health; some 4.x builds used Healthcheck.
    health = state.get("Health") or state.get("Healthcheck") or {}
    health_status = health.get("Status") or None
    log = health.get("Log") or []
    last_output = (log[-1].get("Output") or "").strip() if log else None
    checked_at = parse_podman_time(log[-1].get("End")) if log else None
    return ContainerState(
        name=str(attrs.get("Name", "")).lstrip("/"),
        id=str(attrs.get("Id", "")),
        image=str(attrs.get("ImageName") or (attrs.get("Config") or {}).get("Image") or ""),
        status=str(state.get("Status", "unknown")),
        running=bool(state.get("Running", False)),
        exit_code=int(state.get("ExitCode") or 0),
        oom_killed=bool(state.get("OOMKilled", False)),
        restart_count=int(attrs.get("RestartCount") or 0),
        labels={
            str(k): redact_env_value(str(k), str(v))
            for k, v in ((attrs.get("Config") or {}).get("Labels") or {}).items()
        },
        healthcheck_defined=bool((attrs.get("Config") or {}).get("Healthcheck")),
        health=health_status if health_status not in ("", "none") else None,
        health_failing_streak=int(health.get("FailingStreak") or 0),
        health_last_output=last_output or None,
        started_at=parse_podman_time(state.get("StartedAt")),
        finished_at=parse_podman_time(state.get("FinishedAt")),
        health_checked_at=checked_at,
        published_ports=published_ports(attrs),
    )


def published_ports(attrs: dict[str, Any]) -> list[int]:
    """The host ports a container publishes (``NetworkSettings.Ports``: ``{"4040/tcp": [{"HostPort":
    "4040", ...}]}``, a port without a binding mapped to null)."""
    ports = ((attrs.get("NetworkSettings") or {}).get("Ports")) or {}
    found = {
        int(binding["HostPort"])
        for bindings in ports.values()
        for binding in bindings or []
        if str(binding.get("HostPort") or "").isdigit()
    }
    return sorted(found)


class PodmanGateway:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self._client = podman.PodmanClient(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]  # podman-py ships no annotations here

    def _unreachable(self, exc: BaseException) -> PodmanUnavailable:
        parsed = urlparse(self.base_url)
        if parsed.scheme == "unix" and not os.path.exists(parsed.path):
            return PodmanUnavailable(f"cannot reach podman: socket {parsed.path} does not exist")
        reason = str(exc.__cause__ or exc.__context__ or exc)
        return PodmanUnavailable(f"cannot reach podman at {self.base_url}: {reason[:200]}")

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args)
        except podman.errors.NotFound as exc:
            raise TargetNotFound(str(exc.explanation or exc)) from exc
        except podman.errors.APIError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, requests.ReadTimeout):
                raise OperationTimeout(f"podman took longer than {self.timeout:.0f}s to answer") from exc
            if exc.response is None:  # no HTTP answer at all: socket missing or refusing
                raise self._unreachable(exc) from exc
            raise OperationError(f"podman: {exc.explanation or exc}") from exc
        except requests.ReadTimeout as exc:
            raise OperationTimeout(f"podman took longer than {self.timeout:.0f}s to answer") from exc
        except (requests.ConnectionError, requests.Timeout, FileNotFoundError, ConnectionError) as exc:
            raise self._unreachable(exc) from exc

    async def version(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(self._client.version)
        return result

    async def container(self, name: str) -> Any:
        """The podman-py Container, or TargetNotFound."""
        return await self._call(self._client.containers.get, name)

    async def list_containers(self, *filters: str) -> list[dict[str, Any]]:
        """Inspect documents of every container (running or not) matching ``filters``.

        The list form (``"label=k=v"``): podman-py's dict form with a list value silently
        matches nothing (podman-on-these-machines.md). Items of ``list()`` carry ``State`` as a
        bare string, so each is inspected (``reload``) for the full document.
        """

        def run() -> list[dict[str, Any]]:
            found = self._client.containers.list(all=True, filters=list(filters))
            docs = []
            for item in found:
                try:
                    item.reload()
                except podman.errors.NotFound:
                    continue  # removed between list and inspect
                docs.append(item.attrs)
            return docs

        return await self._call(run)

    async def container_names(self) -> list[str]:
        """Names of every container on this podman, running or not (cheap: no inspect)."""
        items = await self._call(lambda: self._client.containers.list(all=True))
        return sorted(str(item.name) for item in items)

    async def _model(self, name: str, attrs: dict[str, Any] | None) -> Any:
        """The container as podman-py's model: from ``attrs``, its inspect document when the caller
        has just read it (no second inspect), else inspected now."""
        if attrs:
            return self._client.containers.prepare_model(attrs)
        return await self.container(name)

    async def exec(self, name: str, argv: list[str], attrs: dict[str, Any] | None = None) -> tuple[int, str, str]:
        """Run ``argv`` (an argument list: no shell) in the container: exit code, stdout, stderr.
        ``attrs``: as for :meth:`logs`."""
        container = await self._model(name, attrs)
        # demux=True: without it the bytes carry the stream's frame headers.
        code, (out, err) = await self._call(lambda: container.exec_run(argv, demux=True))
        return int(code), (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace")

    async def logs(self, name: str, tail: int, attrs: dict[str, Any] | None = None) -> str:
        """The container's last ``tail`` lines; ``attrs``, its inspect document when the caller has
        just read it, saves podman a second inspect."""
        container = await self._model(name, attrs)

        def run() -> str:
            # podman-py returns a generator of chunks even with stream=False
            chunks = container.logs(stdout=True, stderr=True, tail=tail, stream=False)
            if isinstance(chunks, bytes):
                return chunks.decode(errors="replace")
            return b"".join(chunks).decode(errors="replace")

        return await self._call(run)

    async def top(self, name: str, descriptors: str) -> dict[str, Any]:
        container = await self.container(name)
        result: dict[str, Any] = await self._call(lambda: container.top(ps_args=descriptors))
        return result

    async def stats_sample(self, name: str) -> dict[str, Any]:
        container = await self.container(name)
        raw = await self._call(lambda: container.stats(stream=False, decode=True))
        stats = raw.get("Stats") if isinstance(raw, dict) else None
        if not stats:
            raise OperationError(f"podman gave no stats for {name}: {raw!r:.200}")
        sample: dict[str, Any] = stats[0]
        return sample

    async def restart(self, name: str, stop_timeout: int) -> None:
        container = await self.container(name)
        # podman's API default timeout is 0: SIGKILL at once. Always give the process its chance.
        await self._call(lambda: container.restart(timeout=stop_timeout))

    async def stop(self, name: str, stop_timeout: int) -> None:
        container = await self.container(name)
        # ignore=True: stopping a stopped container answers 304, which podman-py misreads.
        await self._call(lambda: container.stop(timeout=stop_timeout, ignore=True))

    async def start(self, name: str) -> None:
        container = await self.container(name)
        await self._call(container.start)

    @property
    def local(self) -> bool:
        """Whether podman runs on this very host (a unix socket): its containers' addresses are
        then reachable from here, as they are from the containers on their networks."""
        return urlparse(self.base_url).scheme in ("unix", "http+unix")

    async def volume(self, name: str) -> dict[str, Any]:
        volume = await self._call(self._client.volumes.get, name)
        attrs: dict[str, Any] = volume.attrs
        return attrs

    async def remove_volume(self, name: str) -> None:
        # Without force podman refuses a volume any container uses; force would also remove
        # those containers, which the caller must have stopped and accounted for.
        volume = await self._call(self._client.volumes.get, name)
        await self._call(lambda: volume.remove(force=False))

    async def remove_container(self, name: str) -> None:
        container = await self.container(name)
        await self._call(lambda: container.remove(force=False))

    async def pull(self, repository: str, tag: str) -> str:
        """Pull ``repository:tag`` and return the image id; a pull that produced no image fails."""

        def run() -> Any:
            return self._client.images.pull(repository, tag=tag)

        image = await self._call(run)
        image_id = getattr(image, "id", None) if image is not None else None
        # podman-py can hand back an empty Image instead of raising on a failed pull.
        if not image_id:
            raise OperationError(f"pull of {repository}:{tag} produced no image")
        return str(image_id)

    async def inspect(self, name: str, *, run_healthcheck: bool = False) -> ContainerState:
        container = await self._call(self._client.containers.get, name)
        state = container_state_from_attrs(container.attrs)
        if run_healthcheck and state.running and state.healthcheck_defined:
            # libpod's endpoint (podman healthcheck run); the state it records is read back below.
            response = await self._call(self._client.api.get, f"/containers/{container.id}/healthcheck")
            if response.status_code >= 400 and response.status_code != 409:  # 409: stopped meanwhile
                raise OperationError(f"podman healthcheck run answered HTTP {response.status_code}")
            await self._call(container.reload)
            state = container_state_from_attrs(container.attrs)
        return state
