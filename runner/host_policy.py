"""What this runner may touch, and whether a target is still the one a change was approved for.

The names it manages come from its configuration (``PROFBOT_*`` settings), never from a request:
the Pyroscope container, volume and config file, Grafana and its provisioning directory, the
managed containers and every container labelled ``pyroscope.profile=true``. A change runs only
on the very container (same id) or volume (same creation time) its approval bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from profbot.approvals.model import TargetIdentity
from profbot.errors import InvalidArgument, NotAllowed, NotApproved, TargetChanged, TargetNotFound
from runner.compose import ComposeProject
from runner.grafana import GrafanaClient
from runner.podman_gateway import PodmanGateway, parse_podman_time
from runner.pyroscope import PyroscopeClient

PROFILED_LABEL = "pyroscope.profile=true"


@dataclass(frozen=True)
class HostPolicy:
    """What this runner manages: names from its configuration, never from a request."""

    pyroscope_container: str = "pyroscope"
    pyroscope_volume: str = "pyroscope_data"
    pyroscope_image: str = "docker.io/grafana/pyroscope"
    pyroscope_config: Path | None = None
    grafana_container: str = "grafana"
    grafana_provisioning_dir: Path | None = None
    managed: frozenset[str] = field(default_factory=lambda: frozenset({"pyroscope", "backend", "grafana"}))


@dataclass(frozen=True)
class HostContext:
    """What an operation may use on this host."""

    podman: PodmanGateway
    pyroscope: PyroscopeClient
    policy: HostPolicy = field(default_factory=HostPolicy)
    compose: ComposeProject | None = None
    grafana: GrafanaClient | None = None

    def require_compose(self) -> ComposeProject:
        if self.compose is None:
            raise InvalidArgument("this runner has no compose project configured (PROFBOT_COMPOSE_FILE)")
        return self.compose

    def require_config(self, named: str | None = None) -> Path:
        """The configured Pyroscope config file; a change names the file it edits (``named``), and
        any other file is refused: the path came from a request, the file touched is the policy's."""
        path = self.policy.pyroscope_config
        if path is None:
            raise InvalidArgument("this runner has no Pyroscope config file configured (PROFBOT_PYROSCOPE_CONFIG)")
        if named is not None and named != str(path):
            raise NotAllowed(f"{named} is not the Pyroscope config this runner manages ({path}); nothing was changed")
        if not path.exists():
            raise TargetNotFound(f"Pyroscope config {path} does not exist")
        return path

    def require_pyroscope_volume(self, named: str) -> str:
        """The configured Pyroscope data volume, if ``named`` is it; NotAllowed for any other."""
        volume = self.policy.pyroscope_volume
        if named != volume:
            raise NotAllowed(f"volume {named} is not the Pyroscope data volume this runner manages ({volume}); "
                             "nothing was stopped or deleted")  # fmt: skip
        return volume

    async def require_changeable(self, container: str) -> dict[str, Any]:
        """The container's inspect document, if a change may touch it; NotAllowed otherwise."""
        attrs: dict[str, Any] = (await self.podman.container(container)).attrs
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        if container in self.policy.managed or labels.get("pyroscope.profile") == "true":
            return attrs
        raise NotAllowed(
            f"{container} is not managed by profbot on this host (managed: the profiled containers and "
            f"{', '.join(sorted(self.policy.managed))}); nothing was read or changed"
        )

    async def require_readable(self, container: str) -> dict[str, Any]:
        """Reads that expose content (logs, env, files, processes, exec) stay on the containers
        profbot manages: a database's logs have no business in a Slack channel. The container's
        inspect document, read to decide."""
        return await self.require_changeable(container)

    def require_changeable_service(self, service: str) -> ComposeProject:
        compose = self.require_compose()
        compose.require_service(service)
        if service in self.policy.managed or service in compose.profiled_services():
            return compose
        raise NotAllowed(f"compose service {service} is not managed by profbot on this host")


async def container_id(host: HostContext, name: str) -> str | None:
    """The container's id now, or None if there is no such container."""
    try:
        return str((await host.podman.container(name)).id)
    except TargetNotFound:
        return None


# Operations that act on this runner's own Pyroscope or Grafana, and the policy attribute naming the
# container or volume their approval must have bound. (Purge and retention also name the volume or
# config file they act on, and refuse any other: require_pyroscope_volume, require_config.)
POLICY_TARGETS = {
    "pyroscope.set_retention": "pyroscope_container",
    "pyroscope.purge_data": "pyroscope_volume",
    "grafana.provision_pyroscope": "grafana_container",
}


def check_bound_target(policy: HostPolicy, op: str, identity: TargetIdentity) -> None:
    """Operations on this runner's own Pyroscope or Grafana act on what its configuration says: the
    approval must have bound that very container or volume."""
    attribute = POLICY_TARGETS.get(op)
    if attribute is None:
        return
    actual = str(getattr(policy, attribute))
    if identity.name != actual:
        raise NotApproved(
            f"{op} acts on {actual} on this host, but the approval was for {identity.describe()}; nothing ran"
        )


async def verify_identity(host: HostContext, identity: TargetIdentity) -> None:
    """Raise TargetChanged unless the target is still what the approval was given for: a
    container recreated, or a volume removed and made again, is not what anyone approved."""
    if identity.kind == "container":
        now = await container_id(host, identity.name)
        if now != identity.id:
            seen = f"is now {now[:12]}" if now else "no longer exists"
            raise TargetChanged(
                f"{identity.name} was container {(identity.id or '?')[:12]} when this was approved and {seen}: "
                "it was replaced since; nothing ran. Diagnose again and request the change anew."
            )
        return
    try:
        created = parse_podman_time((await host.podman.volume(identity.name)).get("CreatedAt"))
    except TargetNotFound:
        created = None
    approved = datetime.fromisoformat(identity.created_at) if identity.created_at else None
    if created is None or approved is None or created != approved:
        seen = f"was created {created.isoformat()}" if created else "no longer exists"
        raise TargetChanged(
            f"volume {identity.name} was created {identity.created_at} when this was approved and now {seen}: "
            "it was replaced since; nothing ran. Request the change anew."
        )
