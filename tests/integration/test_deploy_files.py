"""The deploy files as their own tools read them: the systemd units through systemd-analyze, the
compose file through podman-compose, the Containerfile against pyproject.toml.

Not done here: building the image (no container registry is reachable, so its base image cannot be
pulled) and starting the units under systemd (it is not PID 1 on the test machines)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from cli import EXIT_CONFIG
from tests.rig.systemd_root import UNIT_DIR, analyze, systemd_root

# One worker takes this whole file (the Makefile's --dist loadgroup): the installed units are
# laid out once, for every test of this file.
pytestmark = pytest.mark.xdist_group("deploy-files")

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
UNITS = ("profbot-serve.service", "profbot-runner.service")
# systemd-analyze security's exposure, x10 (0 best, 100 worst); the units as first shipped scored 84.
EXPOSURE_AT_MOST = {"profbot-serve.service": 15, "profbot-runner.service": 25}


@pytest.fixture(scope="module")
def units_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The units as installed, with the venv's console script they run in place (a stand-in file)."""
    root = systemd_root(tmp_path_factory.mktemp("root"))
    script = root / "opt/profbot/.venv/bin/profbot"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    for unit in UNITS:
        shutil.copy(DEPLOY / unit, root / UNIT_DIR / unit)
    return root


def directives(unit: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (DEPLOY / unit).read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_analyze_verify_passes(units_root: Path, unit: str) -> None:
    result = analyze(units_root, "verify", unit)
    # An unknown or misspelt directive is only a warning for systemd (exit 0): any output fails too.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("unit", UNITS)
def test_the_units_are_hardened(units_root: Path, unit: str) -> None:
    result = analyze(units_root, "security", "--offline=yes", f"--threshold={EXPOSURE_AT_MOST[unit]}", unit)
    overall = [line for line in result.stdout.splitlines() if "Overall exposure" in line]
    assert result.returncode == 0, overall
    found = directives(unit)
    assert found["NoNewPrivileges"] == ["yes"]
    assert found["ProtectSystem"] == ["strict"]
    # A configuration error exits 2: restarting cannot fix it, so systemd must not loop on it.
    assert found["RestartPreventExitStatus"] == [str(EXIT_CONFIG)]
    assert found["Restart"] == ["on-failure"]


def test_serve_runs_as_a_dynamic_user_and_the_runner_as_root_with_two_capabilities() -> None:
    serve, runner = directives("profbot-serve.service"), directives("profbot-runner.service")
    assert serve["DynamicUser"] == ["yes"] and serve["CapabilityBoundingSet"] == [""]
    assert "User" not in runner and runner["CapabilityBoundingSet"] == ["CAP_CHOWN CAP_DAC_OVERRIDE"]
    assert runner["Requires"] == ["podman.socket"]
    # Slack's secrets stay with serve: the runner reads a file of its own.
    assert runner["EnvironmentFile"] == ["/etc/profbot/runner.env"]
    assert serve["EnvironmentFile"] == ["/etc/profbot/profbot.env"]


def compose_config(**env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PROFBOT_", "COMPOSE_"))}
    return subprocess.run(
        [sys.executable, "-m", "podman_compose", "-f", str(DEPLOY / "compose.yml"), "config"],
        env={**environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_runs_serve_and_a_runner_from_one_image_with_a_persistent_redis() -> None:
    result = compose_config(PROFBOT_HOST_ID="web-1", PROFBOT_COMPOSE_DIR="/srv/pyroscope")
    assert result.returncode == 0, result.stderr
    config = YAML(typ="safe").load(result.stdout)
    services = config["services"]
    assert set(services) == {"redis", "serve", "runner"}
    serve, runner, redis = services["serve"], services["runner"], services["redis"]

    assert serve["image"] == runner["image"]
    build = serve["build"]
    assert (Path(build["context"]) / build["dockerfile"]).resolve() == DEPLOY / "Containerfile"
    assert (serve["command"], runner["command"]) == (["serve"], ["runner"])

    # Redis keeps its append-only file on a named volume.
    assert "--appendonly" in redis["command"] and redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    volume, _, target = redis["volumes"][0].partition(":")
    assert target == "/data" and volume in config["volumes"]
    for service in (serve, runner):
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:")

    # The runner: the host's podman socket where CONTAINER_HOST says, and the runbook's compose
    # directory at the same path as on the host (the host's podman resolves its bind mounts).
    env = runner["environment"]
    socket = env["CONTAINER_HOST"].removeprefix("unix://")
    assert f"/run/podman/podman.sock:{socket}" in runner["volumes"]
    assert "/srv/pyroscope:/srv/pyroscope" in runner["volumes"]
    assert env["PROFBOT_COMPOSE_FILE"] == "/srv/pyroscope/docker-compose.prod.yml"
    assert env["PROFBOT_HOST_ID"] == "web-1"
    assert runner["cap_drop"] == ["ALL"] and runner["cap_add"] == ["CHOWN", "DAC_OVERRIDE"]
    assert "no-new-privileges" in runner["security_opt"] and "no-new-privileges" in serve["security_opt"]


def test_compose_names_what_it_needs_to_be_told() -> None:
    result = compose_config(PROFBOT_HOST_ID="web-1")
    assert result.returncode != 0
    assert "set PROFBOT_COMPOSE_DIR to the directory of docker-compose.prod.yml" in result.stderr


def containerfile_stages() -> list[list[tuple[str, str]]]:
    """The Containerfile's stages, each a list of (INSTRUCTION, arguments), continuations joined."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Containerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, arguments = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


def test_the_containerfile_installs_the_package_and_runs_its_console_script_unprivileged() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    (script,) = pyproject["project"]["scripts"]
    *builds, runtime = containerfile_stages()
    assert builds, "multi-stage: a build stage before the image that runs"
    build = builds[-1]
    stage_name = build[0][1].split()[-1]

    # The build stage copies every package the wheel is made of, and installs it (not editable).
    copied = {args.split()[0] for instruction, args in build if instruction == "COPY"}
    assert packages <= copied, f"packages the image would lack: {packages - copied}"
    installs = [args for instruction, args in build if instruction == "RUN" and "pip install ." in args]
    assert installs and "-e" not in installs[0].split()
    venv = installs[0].split()[0].removesuffix("/bin/pip")

    # The image takes that virtualenv, and its entry point is the console script in it.
    assert (f"--from={stage_name} {venv} {venv}") in [args for i, args in runtime if i == "COPY"]
    (entrypoint,) = [json.loads(args) for instruction, args in runtime if instruction == "ENTRYPOINT"]
    assert entrypoint == [f"{venv}/bin/{script}"]
    # Not root: the last USER is a numeric uid other than 0.
    users = [args for instruction, args in runtime if instruction == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and int(users[-1].split(":")[0]) != 0
    # The runner's podman-compose needs a podman client in the image.
    assert any(
        instruction == "RUN" and re.search(r"apt-get install .*\bpodman\b", args) for instruction, args in runtime
    )
