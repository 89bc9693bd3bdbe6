"""The runner's file operations under deploy/profbot-runner.service's own limits, not as full root.

Every operation that writes a file (profbot's compose override, the project's .env, Grafana's
provisioning file and its backup, Pyroscope's config: backup, change, restore) and the walk of a
container's volume run in a real child process limited as the unit limits the runner: its
capability bounding and ambient sets, read from the unit file (setpriv), and no new privileges.
The system calls that child makes must all pass the unit's seccomp filter (SystemCallFilter=, as
systemd-analyze resolves it). The directories belong to those who use them: a compose directory of
a non-root account, Grafana's uid 472, Pyroscope's 10001."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.rig import runner_unit

REPO = Path(__file__).resolve().parents[2]
NOBODY, GRAFANA, PYROSCOPE = 65534, 472, 10001

# In the child: the runner's own functions, one step at a time; each step's error (or none) is a line.
STEPS = """
import json, sys
from pathlib import Path
from runner import safe_files
from runner.compose import ComposeProject, set_env_file_var
from runner.operations.containers import tree_size

root = Path(sys.argv[1])
project = ComposeProject(root / "compose" / "docker-compose.prod.yml")
config = root / "pyroscope" / "pyroscope-config.yml"

def provision(directory):
    target = root / directory / "pyroscope.yml"
    safe_files.backup_if_any(target)
    safe_files.write_atomic(target, "apiVersion: 1\\ndatasources: []\\n")

def restore():
    backup = safe_files.latest_backup(config)
    safe_files.write_atomic(config, safe_files.read_text(backup))

def walk():
    size = tree_size(str(root / "volume"))
    assert size == 5, f"measured {size} bytes of 5"

steps = {
    "compose override": lambda: project.set_service_env("app", {"PROFILE_INTERVAL": "45"}),
    "image pin": lambda: project.set_image("app", "example/app:2"),
    ".env": lambda: set_env_file_var(project.env_file, "PYROSCOPE_ENABLED", "false"),
    "provisioning (Grafana's directory)": lambda: provision("grafana"),
    "provisioning (root's directory, Grafana's file)": lambda: provision("grafana-root"),
    "config backup": lambda: safe_files.backup(config),
    "config change": lambda: safe_files.write_atomic(config, "limits: {}\\n"),
    "config restore": restore,
    "volume walk": walk,
}
for name, step in steps.items():
    try:
        step()
        print(json.dumps([name, None]))
    except Exception as exc:
        print(json.dumps([name, f"{type(exc).__name__}: {exc}"]))
"""


def write(path: Path, text: str, uid: int, mode: int) -> None:
    path.write_text(text)
    os.chown(path, uid, uid)
    path.chmod(mode)


def directory(path: Path, uid: int, mode: int = 0o755) -> Path:
    path.mkdir()
    os.chown(path, uid, uid)
    path.chmod(mode)
    return path


@pytest.fixture
def files(tmp_path: Path) -> Path:
    compose = directory(tmp_path / "compose", NOBODY)
    write(compose / "docker-compose.prod.yml", "services:\n  app:\n    image: example/app:1\n", NOBODY, 0o644)
    write(compose / ".env", "PYROSCOPE_ENABLED=true\n", NOBODY, 0o600)
    write(directory(tmp_path / "grafana", GRAFANA) / "pyroscope.yml", "old\n", GRAFANA, 0o640)
    write(directory(tmp_path / "grafana-root", 0) / "pyroscope.yml", "old\n", GRAFANA, 0o640)
    write(directory(tmp_path / "pyroscope", PYROSCOPE) / "pyroscope-config.yml", "server: {}\n", PYROSCOPE, 0o640)
    data = directory(directory(tmp_path / "volume", PYROSCOPE, 0o700) / "_data", PYROSCOPE, 0o700)
    write(data / "block", "12345", PYROSCOPE, 0o600)
    return tmp_path


def run_steps(root: Path, bounding: list[str] | None = None, *, trace: Path | None = None) -> dict[str, str | None]:
    argv = [*runner_unit.setpriv(bounding), sys.executable, "-c", STEPS, str(root)]
    if trace is not None:
        argv = ["strace", "-f", "-qq", "-o", str(trace), *argv]
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)}
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, env=env, cwd=root)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(line) for line in result.stdout.splitlines())


def owners(root: Path) -> dict[str, tuple[int, int]]:
    """Every file's (uid, mode) by its directory and what it is (the backups' names vary)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            kind = "backup" if path.name.endswith(".bak") else path.name
            found[f"{path.parent.name}/{kind}"] = (path.stat().st_uid, path.stat().st_mode & 0o7777)
    return found


def test_the_unit_and_the_compose_service_hold_the_same_capabilities() -> None:
    bounding = runner_unit.capability_set("CapabilityBoundingSet")
    compose = YAML(typ="safe").load((REPO / "deploy" / "compose.yml").read_text())["services"]["runner"]
    assert compose["cap_drop"] == ["ALL"]
    assert sorted(f"CAP_{name}" for name in compose["cap_add"]) == bounding


def test_every_file_operation_works_under_the_units_limits_and_files_stay_their_owners(
    files: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    trace = tmp_path_factory.mktemp("trace") / "strace.log"
    errors = run_steps(files, trace=trace)
    assert errors == dict.fromkeys(errors), {k: v for k, v in errors.items() if v}
    assert len(errors) == 9

    assert owners(files) == {
        "_data/block": (PYROSCOPE, 0o600),
        # In the compose directory of a non-root account, profbot's new files are that account's.
        "compose/.env": (NOBODY, 0o600),
        "compose/docker-compose.prod.yml": (NOBODY, 0o644),
        "compose/docker-compose.profbot.yml": (NOBODY, 0o644),
        "grafana-root/backup": (GRAFANA, 0o640),
        "grafana-root/pyroscope.yml": (GRAFANA, 0o640),
        "grafana/backup": (GRAFANA, 0o640),
        "grafana/pyroscope.yml": (GRAFANA, 0o640),
        "pyroscope/backup": (PYROSCOPE, 0o640),
        "pyroscope/pyroscope-config.yml": (PYROSCOPE, 0o640),
    }
    assert (files / "pyroscope" / "pyroscope-config.yml").read_text() == "server: {}\n"  # restored

    # Every system call those operations made passes the unit's seccomp filter (else EPERM).
    made = runner_unit.syscalls_after_exec(trace.read_text(), sys.executable)
    assert made, "the trace holds the child's system calls"
    assert made - runner_unit.allowed_syscalls() == set()


@pytest.mark.parametrize("dropped", runner_unit.capability_set("CapabilityBoundingSet"))
def test_each_capability_of_the_unit_is_needed_and_a_refusal_leaves_no_file_behind(files: Path, dropped: str) -> None:
    before = owners(files)
    bounding = [name for name in runner_unit.capability_set("CapabilityBoundingSet") if name != dropped]
    errors = run_steps(files, bounding)
    failed = {name: error for name, error in errors.items() if error}
    assert failed, f"every operation works without {dropped}: the unit need not hold it"
    # What failed left nothing half done: no root-owned backup or draft beside the owners' files
    # (every file here is someone else's), and nothing lost.
    after = owners(files)
    assert all(uid != 0 for uid, _ in after.values()), after
    assert set(before) <= set(after)
