"""The compose project the runbook's `podman-compose -f docker-compose.prod.yml ...` steps act on.

podman-compose runs the `podman` CLI (not the socket); it is started as an argument list, never
through a shell. profbot's own changes to services live in an override file next to the compose
file (``docker-compose.profbot.yml``), passed as a second ``-f`` on every call, so the operators'
compose file is never rewritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import signal
import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from profbot.errors import InvalidArgument, OperationError, OperationTimeout, TargetNotFound
from runner import progress, safe_files
from runner.redaction import bounded_text

if TYPE_CHECKING:
    from ruamel.yaml import YAML

# What podman-compose and the podman CLI need from the runner's environment, and nothing else:
# the runner's own settings (Redis URL, tokens) must not leak into compose's interpolation.
CHILD_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "XDG_RUNTIME_DIR", "CONTAINERS_CONF",
             "CONTAINERS_STORAGE_CONF", "CONTAINERS_REGISTRIES_CONF", "CONTAINER_HOST")  # fmt: skip


def child_environment() -> dict[str, str]:
    return {name: os.environ[name] for name in CHILD_ENV if name in os.environ}


COMPOSE_MARGIN_SECONDS = 3.0  # what is left of a job's deadline after podman-compose is stopped

ENV_LINE = re.compile(r"^\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=")


def set_env_file_var(path: Path, name: str, value: str) -> str:
    """Set ``name=value`` in a .env file (replacing every earlier assignment); returns a description."""
    lines = (safe_files.read_text(path) or "").splitlines()
    kept = [line for line in lines if (m := ENV_LINE.match(line)) is None or m.group("name") != name]
    replaced = len(lines) - len(kept)
    kept.append(f"{name}={value}")
    # A new .env may hold the stack's secrets (HF_TOKEN...): only its owner reads it.
    safe_files.write_atomic(path, "\n".join(kept) + "\n", new_mode=0o600)
    return f"set {name}={value} in {path}" + (f" (replacing {replaced} earlier line(s))" if replaced else "")


class ComposeProject:
    def __init__(
        self,
        compose_file: Path,
        *,
        env_file: Path | None = None,
        override_file: Path | None = None,
        command: list[str] | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.compose_file = compose_file
        self.directory = compose_file.parent
        self.env_file = env_file or self.directory / ".env"
        self.override_file = override_file or self.directory / "docker-compose.profbot.yml"
        self.command = command or [sys.executable, "-m", "podman_compose"]
        self.timeout = timeout

    @cached_property
    def _yaml(self) -> YAML:
        from ruamel.yaml import YAML  # on first use: a runner that edits no compose file is spared its 1.6 MB

        yaml = YAML()
        yaml.default_flow_style = False
        return yaml

    # ------------------------------------------------------------------ reading

    def _load(self, path: Path) -> dict[str, Any]:
        # The compose file is only read (podman-compose reads it too, links and all); the files
        # profbot rewrites (its override) are read as they are written, never through a link.
        text = path.read_text() if path == self.compose_file and path.exists() else safe_files.read_text(path)
        data = self._yaml.load(text) if text else None
        return dict(data) if data else {}

    def services(self) -> set[str]:
        if not self.compose_file.exists():
            raise TargetNotFound(f"compose file {self.compose_file} does not exist")
        return set((self._load(self.compose_file).get("services") or {}).keys())

    def require_service(self, service: str) -> None:
        if service not in self.services():
            raise TargetNotFound(f"no service {service} in {self.compose_file.name}")

    # ------------------------------------------------------------------ running podman-compose

    def _files(self) -> list[str]:
        files = ["-f", str(self.compose_file)]
        if self.override_file.exists():
            files += ["-f", str(self.override_file)]
        return files

    async def run(self, *args: str) -> str:
        argv = [*self.command, "--env-file", str(self.env_file), *self._files(), *args]
        # Inside the job's deadline, with room to say so: killed by the job's own cut-off, it
        # would be reported without saying which command was cut.
        left = progress.remaining()
        timeout = self.timeout if left is None else min(self.timeout, left - COMPOSE_MARGIN_SECONDS)
        if timeout <= 0:
            raise OperationError(f"no time left before the deadline to run podman-compose {' '.join(args)}: not run")
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=self.directory,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=child_environment(),
            # Its own process group: cut off, podman-compose is killed with the podman commands it
            # started, which would otherwise hold its output open (and this wait) until they end.
            start_new_session=True,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            raise OperationTimeout(f"podman-compose {' '.join(args)} did not finish in {timeout:.0f}s") from None
        finally:
            if proc.returncode is None:  # timed out, or the job was cut off: no orphan left behind
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        text = out.decode(errors="replace")
        if proc.returncode != 0:
            tail = "\n".join(bounded_text(text, max_lines=15).lines)
            raise OperationError(f"podman-compose {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
        return text

    async def up(self, *services: str, force_recreate: bool = False) -> str:
        args = ["up", "-d"]
        if force_recreate:
            args.append("--force-recreate")
        return await self.run(*args, *services)

    async def stop(self, service: str, timeout: int) -> str:
        return await self.run("stop", "-t", str(timeout), service)

    # ------------------------------------------------------------------ profbot's override

    def set_service_env(self, service: str, updates: dict[str, str]) -> str:
        """Record ``updates`` for ``service`` in the override file (list form, as the runbook writes)."""
        self.require_service(service)
        data = self._load(self.override_file)
        services = data.setdefault("services", {})
        entry = services.setdefault(service, {})
        current: dict[str, str] = {}
        for item in entry.get("environment") or []:
            key, _, value = str(item).partition("=")
            current[key] = value
        current.update(updates)
        entry["environment"] = [f"{k}={v}" for k, v in sorted(current.items())]
        self._write_override(data)
        shown = ", ".join(f"{k}={v}" for k, v in updates.items())
        return f"set {shown} for {service} in {self.override_file.name}"

    def _write_override(self, data: dict[str, Any]) -> None:
        draft = io.StringIO()
        draft.write("# Written by profbot. Passed to podman-compose after the main file.\n")
        self._yaml.dump(data, draft)
        safe_files.write_atomic(self.override_file, draft.getvalue())

    def image_of(self, service: str) -> tuple[str, str | None]:
        """(the compose file's image, profbot's override image or None) for ``service``."""
        self.require_service(service)
        main = ((self._load(self.compose_file).get("services") or {}).get(service) or {}).get("image")
        override = ((self._load(self.override_file).get("services") or {}).get(service) or {}).get("image")
        if not main:
            raise TargetNotFound(f"service {service} has no image in {self.compose_file.name} (built locally?)")
        return str(main), str(override) if override else None

    def set_image(self, service: str, image: str | None) -> str:
        """Pin ``service`` to ``image`` in the override file, or drop the pin with None."""
        data = self._load(self.override_file)
        services = data.setdefault("services", {})
        entry = services.setdefault(service, {})
        if image is None:
            entry.pop("image", None)
            if not entry:
                services.pop(service, None)
        else:
            entry["image"] = image
        self._write_override(data)
        return (
            f"pinned {service} to {image} in {self.override_file.name}"
            if image
            else f"removed profbot's image pin for {service}: back to {self.compose_file.name}'s version"
        )

    def env_value(self, name: str) -> str | None:
        value = None
        for line in (safe_files.read_text(self.env_file) or "").splitlines():
            m = ENV_LINE.match(line)
            if m and m.group("name") == name:
                value = line.split("=", 1)[1].strip().strip("'\"")
        return value

    def services_using(self, variable: str) -> list[str]:
        """Services whose definition interpolates ``${variable...}``: those a .env change reaches."""
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", variable):
            raise InvalidArgument(f"not a variable name: {variable}")
        pattern = re.compile(r"\$\{" + variable + r"(?:[:?-][^}]*)?\}|\$" + variable + r"\b")
        data = self._load(self.compose_file)
        found = []
        for name, definition in (data.get("services") or {}).items():
            dumped = str(definition)
            if pattern.search(dumped):
                found.append(str(name))
        return sorted(found)

    def service_for_container(self, container: str) -> str:
        """The service that runs as ``container`` (its container_name, or its own name)."""
        for name, definition in (self._load(self.compose_file).get("services") or {}).items():
            if str((definition or {}).get("container_name") or name) == container:
                return str(name)
        raise TargetNotFound(f"no service in {self.compose_file.name} runs as container {container}")

    def container_name(self, service: str) -> str:
        """The container a service runs as: its ``container_name``, else the service name."""
        definition = (self._load(self.compose_file).get("services") or {}).get(service) or {}
        return str(definition.get("container_name") or service)

    def profiled_services(self) -> set[str]:
        """Services labelled ``pyroscope.profile: 'true'`` (mapping or list form)."""
        found = set()
        for name, definition in (self._load(self.compose_file).get("services") or {}).items():
            labels = (definition or {}).get("labels") or {}
            if isinstance(labels, dict):
                profiled = str(labels.get("pyroscope.profile", "")).lower() == "true"
            else:
                profiled = any(str(item).replace(" ", "") in ("pyroscope.profile=true",) for item in labels)
            if profiled:
                found.add(str(name))
        return found
