"""What the runner writes, against an adversary: a directory it edits belongs to a less privileged
account (``nobody`` here), who plants symbolic links to a root-owned file elsewhere, before or
between operations. The runner is the real one, on the real podman rig; every link is planted by a
real process running as nobody. The file behind the link must stay as it was (content, owner,
mode), and the operator must be told why the operation was refused."""

from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from profbot.errors import NotAllowed
from profbot.ops.compose import SetGlobalProfiling
from profbot.ops.grafana import ProvisionPyroscopeDatasource
from profbot.ops.pyroscope import RestorePyroscopeConfig
from tests.integration.conftest import Call
from tests.rig.podman_rig import PodmanRig

NOBODY = pwd.getpwnam("nobody")


def as_nobody(script: str, *args: str | Path) -> None:
    """``sh -c script`` as nobody, with ``args`` as $1...: the adversary's own process."""
    subprocess.run(
        ["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}", "--clear-groups",
         "sh", "-c", script, "sh", *map(str, args)],
        check=True, timeout=30,
    )  # fmt: skip


@contextmanager
def given_to_nobody(rig: PodmanRig, directory: Path) -> Iterator[Path]:
    """``directory`` and what is in it belong to nobody for the test (who may reach it from the
    rig's private directory down); root's again afterwards."""
    on_the_way = [d for d in (directory.parent, *directory.parent.parents) if d.is_relative_to(rig.dir)]
    modes = {d: d.stat().st_mode for d in on_the_way}
    for d in on_the_way:
        d.chmod(d.stat().st_mode | 0o001)
    subprocess.run(["chown", "-R", f"{NOBODY.pw_uid}:{NOBODY.pw_gid}", str(directory)], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["chown", "-R", "-h", "0:0", str(directory)], check=True)
        for d, mode in modes.items():
            d.chmod(mode)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file of root's, elsewhere, that nobody may neither read nor write."""
    path = tmp_path / "root-only.conf"
    path.write_text("root's own settings\n")
    path.chmod(0o600)
    return path


def state(path: Path) -> tuple[bytes, int, int, int]:
    st = path.lstat()
    return path.read_bytes(), st.st_uid, st.st_gid, st.st_mode


def started_at(rig: PodmanRig, name: str) -> str:
    return rig.inspect(name, "{{.State.StartedAt}}")


async def test_links_planted_at_the_provisioning_backups_names_are_not_written_through(
    call: Call, stack: PodmanRig, victim: Path
) -> None:
    provisioning = stack.grafana_provisioning
    before = state(victim)
    with given_to_nobody(stack, provisioning):
        as_nobody('printf "apiVersion: 1\\n" > "$1"', provisioning / "pyroscope.yml")
        # Every name a backup made within the next three minutes could have, if it were predictable.
        now = datetime.now(UTC)
        planted = [
            provisioning / f"pyroscope.yml.{now + timedelta(seconds=s):%Y%m%dT%H%M%S}.bak" for s in range(-2, 180)
        ]
        as_nobody('v=$1; shift; for n; do ln -s "$v" "$n"; done', victim, *planted)

        result = await call(ProvisionPyroscopeDatasource(), timeout=60)

        assert state(victim) == before
        assert all(link.is_symlink() for link in planted), "the adversary's links are left alone"
        (backup,) = [p for p in provisioning.glob("pyroscope.yml.*.bak") if not p.is_symlink()]
        assert f"backed up the existing pyroscope.yml to {backup.name}" in result.steps
        assert backup.read_text() == "apiVersion: 1\n" and backup.stat().st_uid == NOBODY.pw_uid
        written = provisioning / "pyroscope.yml"
        assert "type: pyroscope" in written.read_text() and written.stat().st_uid == NOBODY.pw_uid


async def test_a_link_planted_at_the_provisioning_file_between_two_operations_is_refused(
    call: Call, stack: PodmanRig, victim: Path
) -> None:
    provisioning = stack.grafana_provisioning
    before = state(victim)
    with given_to_nobody(stack, provisioning):
        await call(ProvisionPyroscopeDatasource(), timeout=60)
        restarted = started_at(stack, "grafana")
        target = provisioning / "pyroscope.yml"
        as_nobody('rm -f "$2" && ln -s "$1" "$2"', victim, target)
        listing = sorted(os.listdir(provisioning))

        with pytest.raises(NotAllowed) as refused:
            await call(ProvisionPyroscopeDatasource(), timeout=60)

        assert str(refused.value) == (
            f"{target} is a symbolic link to {victim} (in a directory of nobody): profbot edits regular "
            "files only, never through a link; nothing was changed"
        )
        assert state(victim) == before
        assert sorted(os.listdir(provisioning)) == listing and os.readlink(target) == str(victim)
        assert started_at(stack, "grafana") == restarted, "Grafana was not restarted for nothing"


async def test_a_link_planted_for_a_directory_of_the_provisioning_path_is_refused(
    call: Call, stack: PodmanRig, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "root-dir"
    elsewhere.mkdir()
    (elsewhere / "pyroscope.yml").write_text("root's file\n")
    before = {p.name: state(p) for p in elsewhere.iterdir()}
    datasources = stack.grafana_provisioning
    with given_to_nobody(stack, datasources.parent):
        as_nobody('mv "$2" "$2.real" && ln -s "$1" "$2"', elsewhere, datasources)
        try:
            with pytest.raises(NotAllowed, match=f"{datasources} .* is a symbolic link to {elsewhere} in a directory "
                               "nobody may change: .*nothing was changed"):  # fmt: skip
                await call(ProvisionPyroscopeDatasource(), timeout=60)
        finally:
            as_nobody('rm "$1" && mv "$1.real" "$1"', datasources)
    assert {p.name: state(p) for p in elsewhere.iterdir()} == before


async def test_a_link_planted_as_the_latest_config_backup_is_not_restored(
    call: Call, stack: PodmanRig, victim: Path
) -> None:
    config = stack.pyroscope_config
    original = config.read_text()
    with given_to_nobody(stack, config.parent):
        link = config.with_name(f"{config.name}.99991231T235959.999999Z.bak")  # the newest, by its name
        as_nobody('ln -s "$1" "$2"', victim, link)
        with pytest.raises(NotAllowed, match=f"{link} is a symbolic link to {victim}"):
            await call(RestorePyroscopeConfig(), timeout=60)
    assert config.read_text() == original, "root's file did not become Pyroscope's config"


async def test_a_link_planted_at_the_env_file_is_refused(call: Call, stack: PodmanRig, victim: Path) -> None:
    before = state(victim)
    with given_to_nobody(stack, stack.project):
        as_nobody('rm -f "$2" && ln -s "$1" "$2"', victim, stack.env_file)
        try:
            with pytest.raises(NotAllowed, match=f"{stack.env_file} is a symbolic link to {victim}"):
                await call(SetGlobalProfiling(enabled=False), timeout=60)
            assert os.readlink(stack.env_file) == str(victim)
        finally:
            stack.env_file.unlink()
    assert state(victim) == before
