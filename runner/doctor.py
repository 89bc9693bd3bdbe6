"""``profbot doctor``'s checks on the runner's side: the podman socket and Pyroscope's /ready."""

from __future__ import annotations

from urllib.parse import urlparse

from profbot.doctor import Check
from profbot.errors import OperationError
from profbot.settings import RunnerSettings, without_password
from runner.podman_gateway import PodmanGateway
from runner.pyroscope import PyroscopeClient


def socket_fix(container_host: str) -> str:
    path = urlparse(container_host).path
    if path.startswith("/run/user/"):
        return "systemctl --user enable --now podman.socket (or point CONTAINER_HOST at the running socket)"
    return "systemctl enable --now podman.socket (as root; or point CONTAINER_HOST at the running socket)"


async def podman(settings: RunnerSettings) -> Check:
    gateway = PodmanGateway(settings.container_host, timeout=min(settings.call_timeout_seconds, 5))
    try:
        version = await gateway.version()
    except OperationError as exc:
        return Check("podman socket", False, str(exc), socket_fix(settings.container_host))
    finally:
        gateway.close()
    return Check("podman socket", True, f"podman {version.get('Version')} at {settings.container_host}")


async def pyroscope(settings: RunnerSettings) -> Check:
    async with PyroscopeClient(str(settings.pyroscope_url), timeout=5) as client:
        answer = await client.ready()
    if answer.ready:
        return Check("Pyroscope", True, f"{without_password(answer.url)} answers ready in {answer.latency_ms:.0f} ms")
    said = answer.error or f"HTTP {answer.status_code} {answer.body[:80]}"
    fix = "start the pyroscope container (podman start pyroscope), or set PYROSCOPE_URL to where it listens"
    return Check("Pyroscope", False, f"{without_password(answer.url)}: {said}", fix)
