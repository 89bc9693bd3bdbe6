"""runner/safe_files.py, every primitive against the owner of the directory it writes in: ``nobody``
plants a link (at the file, or for a directory on the way), a FIFO, or races the writes with a
process of its own. Real files, real processes; the file behind the link is root's, elsewhere, and
must stay as it was."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from profbot.errors import NotAllowed, OperationError
from runner import safe_files

NOBODY = pwd.getpwnam("nobody")
SETPRIV = ["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}", "--clear-groups"]


def as_nobody(script: str, *args: str | Path) -> None:
    subprocess.run([*SETPRIV, "sh", "-c", script, "sh", *map(str, args)], check=True, timeout=30)


def state(path: Path) -> tuple[bytes, int, int, int]:
    st = path.lstat()
    return path.read_bytes(), st.st_uid, st.st_gid, st.st_mode


@pytest.fixture
def place() -> Iterator[tuple[Path, Path]]:
    """(a directory of nobody's with nobody's pyroscope.yml in it, a root-only file elsewhere)."""
    base = Path(tempfile.mkdtemp(prefix="pbsafe-"))
    base.chmod(0o711)  # nobody may reach its directory, and nothing else here
    victim = base / "vault" / "root-only.conf"
    victim.parent.mkdir(mode=0o700)
    victim.write_text("root's own settings\n")
    victim.chmod(0o600)
    directory = base / "provisioning"
    directory.mkdir()
    os.chown(directory, NOBODY.pw_uid, NOBODY.pw_gid)
    as_nobody('printf "old\\n" > "$1"', directory / "pyroscope.yml")
    yield directory, victim
    shutil.rmtree(base)


OPERATIONS: dict[str, Callable[[Path], object]] = {
    "write": lambda path: safe_files.write_atomic(path, "new\n"),
    "backup": safe_files.backup,
    "read": safe_files.read_text,
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_link_at_the_file_is_refused_and_nothing_changes(place: tuple[Path, Path], operation: str) -> None:
    directory, victim = place
    target = directory / "pyroscope.yml"
    as_nobody('rm "$2" && ln -s "$1" "$2"', victim, target)
    before, listing = state(victim), sorted(os.listdir(directory))
    with pytest.raises(NotAllowed) as refused:
        OPERATIONS[operation](target)
    assert str(refused.value) == (
        f"{target} is a symbolic link to {victim} (in a directory of nobody): profbot edits regular files "
        "only, never through a link; nothing was changed"
    )
    assert state(victim) == before and sorted(os.listdir(directory)) == listing


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_link_for_a_directory_on_the_way_is_refused(place: tuple[Path, Path], operation: str) -> None:
    directory, victim = place
    as_nobody('ln -s "$1" "$2"', victim.parent, directory / "datasources")
    before = state(victim)
    with pytest.raises(NotAllowed, match=f"{directory}/datasources .* is a symbolic link to {victim.parent} in a "
                       "directory nobody may change"):  # fmt: skip
        OPERATIONS[operation](directory / "datasources" / victim.name)
    assert state(victim) == before and os.listdir(victim.parent) == [victim.name]


def test_a_link_only_root_could_have_made_is_followed(tmp_path: Path) -> None:
    # An operator's own layout (/srv/pyroscope -> /data/pyroscope, root's link in root's directory).
    real = tmp_path / "data"
    real.mkdir()
    (tmp_path / "srv").mkdir(mode=0o755)
    (tmp_path / "srv" / "pyroscope").symlink_to(real)
    safe_files.write_atomic(tmp_path / "srv" / "pyroscope" / "pyroscope.yml", "new\n")
    assert (real / "pyroscope.yml").read_text() == "new\n"


def test_a_fifo_at_the_file_is_refused_without_waiting_for_a_writer(place: tuple[Path, Path]) -> None:
    directory, _ = place
    target = directory / "pyroscope.yml"
    as_nobody('rm "$1" && mkfifo "$1"', target)
    started = time.monotonic()
    with pytest.raises(NotAllowed, match="is not a regular file"):
        safe_files.read_text(target)
    assert time.monotonic() - started < 5


def test_a_hard_link_to_a_file_elsewhere_is_not_copied_into_a_backup(place: tuple[Path, Path]) -> None:
    # Where fs.protected_hardlinks is off, nobody may link root's file into its own directory.
    directory, victim = place
    target = directory / "pyroscope.yml"
    target.unlink()
    os.link(victim, target)
    with pytest.raises(NotAllowed, match="is a hard link to another file"):
        safe_files.backup(target)
    assert [name for name in os.listdir(directory) if name.endswith(".bak")] == []


# The adversary's race: every file that appears in its directory is swapped for a link to the
# victim (a temporary file, a backup, the target itself), as fast as it can.
RACE = """
import os, sys, time
directory, victim, until = sys.argv[1], sys.argv[2], time.monotonic() + float(sys.argv[3])
while time.monotonic() < until:
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if not os.path.islink(path):
            try:
                os.rename(path, path + ".moved") if name == "pyroscope.yml" else os.unlink(path)
                os.symlink(victim, path)
            except OSError:
                pass
"""


def test_an_adversary_racing_every_write_never_reaches_the_file_elsewhere(place: tuple[Path, Path]) -> None:
    directory, victim = place
    before = state(victim)
    racer = subprocess.Popen([*SETPRIV, "/usr/bin/python3", "-c", RACE, str(directory), str(victim), "20"])
    outcomes: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            for name, operation in OPERATIONS.items():
                try:
                    operation(directory / "pyroscope.yml")
                    outcomes[f"{name}: done"] = outcomes.get(f"{name}: done", 0) + 1
                except (NotAllowed, OperationError) as exc:
                    outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
    finally:
        racer.kill()
        racer.wait()
    assert state(victim) == before, outcomes
    assert outcomes.get("NotAllowed"), outcomes  # the race was run: links were met, and refused
