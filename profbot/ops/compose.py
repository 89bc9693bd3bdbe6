"""Operations on the compose project the runbook's `podman-compose` steps act on: recreate a
service, its profiling env, the project's .env, image pins in profbot's override."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from profbot.ops.arguments import ImageTag, ResourceName
from profbot.ops.contract import CATALOG, ChangeResult, Operation, OpKind, OpResult


class ImagePin(OpResult):
    service: str
    compose_image: str  # what the operators' compose file pins
    override_image: str | None  # what profbot's override pins on top, if anything
    running_image: str | None  # what the container runs now


@CATALOG.register("compose.image", OpKind.READ, timeout=10)
class GetServiceImage(Operation[ImagePin]):
    """The image a compose service is pinned to, in the compose file and in profbot's override."""

    service: ResourceName


@CATALOG.register("compose.recreate", OpKind.CHANGE, timeout=180)
class RecreateService(Operation[ChangeResult]):
    """`podman-compose up -d --force-recreate SERVICE`: keeps compose labels, volumes and network."""

    service: ResourceName


@CATALOG.register("service.set_profiling", OpKind.CHANGE, timeout=180)
class SetServiceProfiling(Operation[ChangeResult]):
    """Set a service's PROFILE_INTERVAL and/or PYROSCOPE_ENABLED in profbot's compose override, and
    recreate the service with it."""

    service: ResourceName
    profile_interval: Annotated[int, Field(ge=5, le=3600)] | None = None
    pyroscope_enabled: bool | None = None


@CATALOG.register("profiling.set_global", OpKind.CHANGE, timeout=300)
class SetGlobalProfiling(Operation[ChangeResult]):
    """PYROSCOPE_ENABLED in the project's .env, then `up -d` so every service picks it up."""

    enabled: bool


@CATALOG.register("compose.set_image_tag", OpKind.CHANGE, timeout=30)
class SetServiceImageTag(Operation[ChangeResult]):
    """Pin a service to another tag of its image in profbot's override (MAINT-PROF-001 step 4);
    the operators' compose file stays as it is. Takes effect at the next recreate."""

    service: ResourceName
    tag: ImageTag


@CATALOG.register("compose.clear_image", OpKind.CHANGE, timeout=30)
class ClearServiceImage(Operation[ChangeResult]):
    """Drop profbot's image pin for a service: back to the compose file's version (the rollback)."""

    service: ResourceName
