"""profbot as it is installed, not as it is developed: its wheel in a fresh virtualenv, and a runner
installed by deploy/install-runner.sh.

Both stay off the network: the wheel is built without build isolation, and the fresh virtualenv
finds profbot's dependencies through a .pth line to this virtualenv's site-packages (after its
own). profbot itself must come from the wheel: the tests check where it was imported from."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.rig.processes import base_env
from tests.rig.systemd_root import UNIT_DIR, analyze, systemd_root

# One worker takes this whole file (the Makefile's --dist loadgroup): the wheel and its venv
# are built once, for every test of this file.
pytestmark = pytest.mark.xdist_group("packaging")

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PACKAGES = [pattern.rstrip("*") for pattern in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]]
VERSION = PYPROJECT["project"]["version"]


def run(
    argv: list[str | Path], *, env: dict[str, str] | None = None, cwd: Path | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], env=env, cwd=cwd, input=input, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """profbot's wheel, built from a copy of what it is made of (no stale build/ of the checkout)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for package in PACKAGES:
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                 "-w", out, source])  # fmt: skip
    assert built.returncode == 0, built.stderr
    (found,) = out.glob("profbot-*.whl")
    return found


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    made = run([sys.executable, "-m", "venv", "--without-pip", venv])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    installed = run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel]
    )
    assert installed.returncode == 0, installed.stderr
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "zz_profbot_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_the_wheel_holds_every_module_of_the_source(wheel: Path) -> None:
    # A file beside the modules (a template, a script the code reads) is read from a checkout but
    # is left out of the wheel unless setuptools is told to ship it.
    source = {
        str(path.relative_to(REPO))
        for package in PACKAGES
        for path in (REPO / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    assert source - in_wheel == set()
    assert f"profbot-{VERSION}.dist-info/entry_points.txt" in in_wheel


def test_the_installed_profbot_command_works_from_the_wheel(
    fresh_venv: Path, tmp_path: Path, redis_url: str, prefix: str
) -> None:
    python, profbot = fresh_venv / "bin" / "python", fresh_venv / "bin" / "profbot"
    env = base_env(REDIS_URL=redis_url, PROFBOT_REDIS_PREFIX=prefix, PROFBOT_STATE_DIR=str(tmp_path / "state"))
    env.pop("PYTHONPATH", None)
    where = run([python, "-c", f"import {', '.join(PACKAGES)}; print({', '.join(f'{p}.__file__' for p in PACKAGES)})"],
                env=env, cwd=tmp_path)  # fmt: skip
    assert where.returncode == 0, where.stderr
    for path in where.stdout.strip().strip("()").split(", "):
        assert Path(path.strip("'")).is_relative_to(fresh_venv), f"imported from outside the wheel: {path}"
    # Its dependencies are all there, as the wheel declares them.
    checked = run([sys.executable, "-m", "pip", "--python", python, "check"], env=env)
    assert checked.returncode == 0, checked.stdout

    version = run([profbot, "--version"], env=env, cwd=tmp_path)
    assert version.stdout.strip() == f"profbot {VERSION}"
    # The shell, on standard input, against the shared Redis: no Slack, no runner needed for help.
    shell = run([profbot, "shell"], input="help\n", env=env, cwd=tmp_path)
    assert shell.returncode == 0, shell.stdout + shell.stderr
    assert "profbot commands" in shell.stdout and "restart SERVICE" in shell.stdout
    # A configuration error exits 2: what the systemd units' RestartPreventExitStatus=2 counts on.
    serve = run([profbot, "serve"], env=env, cwd=tmp_path)
    assert (serve.returncode, serve.stderr.strip()) == (2, "profbot: configuration error: SLACK_BOT_TOKEN is missing")


def install_runner(root: Path, host: str, source: Path) -> subprocess.CompletedProcess[str]:
    env = base_env(PROFBOT_INSTALL_ROOT=str(root), PIP_OPTIONS="--no-deps --no-index", PYTHON=sys.executable)
    return run(["bash", REPO / "deploy" / "install-runner.sh", host, source], env=env, cwd=root)


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    return {
        str(path.relative_to(root)): (path.stat().st_mtime_ns, path.stat().st_mode, path.read_bytes())
        for path in root.rglob("*")
        if path.is_file() and not path.is_symlink()
    }


def test_install_runner_installs_once_and_then_changes_nothing(wheel: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    first = install_runner(root, "web-1", wheel)
    assert first.returncode == 0, first.stderr
    said = first.stdout
    assert f"package: installed profbot {VERSION} into /opt/profbot/.venv from {wheel}" in said
    assert "settings: wrote /etc/profbot/runner.env (PROFBOT_HOST_ID=web-1)" in said
    assert "unit: installed /etc/systemd/system/profbot-runner.service" in said
    assert "systemd: not touched (installing under" in said and said.rstrip().endswith("done: 4 change(s)")

    env_file = root / "etc/profbot/runner.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    lines = env_file.read_text().splitlines()
    assert "PROFBOT_HOST_ID=web-1" in lines
    assert not [line for line in lines if "SLACK_" in line], "the runner's file holds no Slack setting"
    assert (root / "etc/systemd/system/profbot-runner.service").read_text() == (
        REPO / "deploy/profbot-runner.service"
    ).read_text()
    venv_python = root / "opt/profbot/.venv/bin/python"
    where = run([venv_python, "-c", "import profbot; print(profbot.__file__)"], cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(root / "opt/profbot/.venv"), where.stderr

    before = snapshot(root)
    second = install_runner(root, "web-1", wheel)
    assert second.returncode == 0, second.stderr
    assert second.stdout.rstrip().endswith("nothing changed: the runner was already installed as asked")
    assert "already installed from" in second.stdout and "runner.env exists, left as it is" in second.stdout
    assert snapshot(root) == before


def test_install_runner_keeps_the_operators_settings_and_opens_only_their_paths(wheel: Path, tmp_path: Path) -> None:
    root = systemd_root(tmp_path / "root")
    assert install_runner(root, "web-1", wheel).returncode == 0
    env_file = root / "etc/profbot/runner.env"
    with env_file.open("a") as f:
        f.write("REDIS_URL=redis://bot.internal:6379/0\n")
        f.write("PROFBOT_COMPOSE_FILE=/srv/pyroscope/docker-compose.prod.yml\n")
        f.write("PROFBOT_GRAFANA_PROVISIONING_DIR='/srv/grafana/provisioning/datasources'\n")
    edited = env_file.read_text()

    again = install_runner(root, "web-2", wheel)
    assert again.returncode == 0, again.stderr
    assert "says PROFBOT_HOST_ID=web-1, not web-2: left as it is" in again.stdout
    assert env_file.read_text() == edited
    dropin = root / UNIT_DIR / "profbot-runner.service.d/paths.conf"
    assert "ReadWritePaths=-/srv/grafana/provisioning/datasources -/srv/pyroscope" in dropin.read_text().splitlines()
    assert again.stdout.rstrip().endswith("done: 1 change(s)")

    # The unit as installed, with its drop-in and the real console script, passes systemd's check.
    verified = analyze(root, "verify", "profbot-runner.service")
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")


def test_install_runner_never_opens_the_root_or_a_directory_above_the_runners_files(
    wheel: Path, tmp_path: Path
) -> None:
    root = systemd_root(tmp_path / "root")
    assert install_runner(root, "web-1", wheel).returncode == 0
    with (root / "etc/profbot/runner.env").open("a") as f:
        f.write("PROFBOT_COMPOSE_FILE=/srv/pyroscope/docker-compose.prod.yml\n")  # the one to open
        f.write("PROFBOT_PYROSCOPE_CONFIG=/pyroscope-config.yml\n")  # its directory is /
        f.write("PROFBOT_ENV_FILE=/srv/pyroscope/../../etc/pyroscope.env\n")  # /etc, spelt otherwise
        f.write("PROFBOT_GRAFANA_PROVISIONING_DIR=/srv/grafana/provisioning/datasources/\n")  # a trailing /
    again = install_runner(root, "web-1", wheel)
    assert again.returncode == 0, again.stderr
    dropin = root / UNIT_DIR / "profbot-runner.service.d/paths.conf"
    assert [line for line in dropin.read_text().splitlines() if "Paths" in line] == ["ReadWritePaths=-/srv/pyroscope"]
    refused = [line for line in again.stderr.splitlines() if line.endswith("not made writable")]
    assert refused == [
        "install-runner: unit: PROFBOT_ENV_FILE=/srv/pyroscope/../../etc/pyroscope.env (in /etc/profbot/runner.env): "
        "is not a plain path (a '.', '..', '//' or trailing '/' in it): not made writable",
        "install-runner: unit: PROFBOT_PYROSCOPE_CONFIG=/pyroscope-config.yml (in /etc/profbot/runner.env): its "
        "directory / is the root directory: the runner would write everywhere in it: not made writable",
        "install-runner: unit: PROFBOT_GRAFANA_PROVISIONING_DIR=/srv/grafana/provisioning/datasources/ (in "
        "/etc/profbot/runner.env): is not a plain path (a '.', '..', '//' or trailing '/' in it): not made writable",
    ]
    verified = analyze(root, "verify", "profbot-runner.service")
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")


def test_install_runner_knows_every_package_a_source_install_is_made_of() -> None:
    # It reinstalls from a source directory when any of these changed: a package missing here would
    # leave an upgrade of it uninstalled.
    script = (REPO / "deploy" / "install-runner.sh").read_text()
    match = re.search(r"^PACKAGES=\((.*)\)$", script, re.MULTILINE)
    assert match is not None and sorted(match[1].split()) == sorted(PACKAGES)
