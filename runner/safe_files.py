"""Every file the runner reads to rewrite, writes, backs up or gives away, opened so that no link
sends it elsewhere.

The runner is root; the directories it edits (a compose directory, Grafana's provisioning) may
belong to a less privileged account. Whoever owns such a directory can put a symbolic link where
the runner is about to write, and a root that follows it overwrites (and chowns) any file on the
host. So here:

- a directory is reached one component at a time from ``/``, each opened relative to its parent's
  descriptor (never looked up again by path); a symbolic link on the way is followed only when
  only root could have made it (root's link in a directory root alone may write), else refused;
- the file itself is opened with ``O_NOFOLLOW`` relative to that descriptor: a link there is
  always refused, and so is anything but a regular file (a FIFO would block the runner), and, in a
  directory someone else may change, a file with a second hard link (it may be a file elsewhere);
- a new file is a temporary file with an unpredictable name, created exclusively in the same
  directory, given its mode and owner on its own descriptor (``fchmod``, ``fchown``) and renamed
  over the target within the directory's descriptor; a backup gets an unpredictable name too.

A refusal raises NotAllowed before anything is written, saying which link, where, and whose
directory it is in: the operator sees why and that nothing was changed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import secrets
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from profbot.errors import NotAllowed, OperationError, TargetNotFound

MAX_LINKS = 40  # as the kernel's own limit on links followed in one lookup
_O = os.O_CLOEXEC | os.O_NOFOLLOW


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _ours(uid: int) -> bool:
    """Root's, or the runner's own (a rootless runner follows links its own user made)."""
    return uid in (0, os.geteuid())


def _only_root_writes(st: os.stat_result) -> bool:
    """Only root (or the runner's own user) could have put an entry in this directory: theirs, and
    writable by no one else."""
    return _ours(st.st_uid) and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _refused(what: str, why: str) -> NotAllowed:
    return NotAllowed(f"{what} {why}: profbot edits regular files only, never through a link; nothing was changed")


@contextlib.contextmanager
def _directory(path: Path, file: Path) -> Iterator[int]:
    """A descriptor (O_PATH) of the directory ``path``, reached without an untrusted link (for
    ``file``, named in the reasons)."""
    if not path.is_absolute():
        raise OperationError(f"{file} is not an absolute path")
    fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        parts = list(path.parts[1:])
        shown = Path("/")
        links = 0
        while parts:
            name = parts.pop(0)
            if name in ("", "."):
                continue
            try:
                child = os.open(name, os.O_PATH | _O, dir_fd=fd)
            except FileNotFoundError:
                raise TargetNotFound(f"{file} does not exist ({shown / name} is missing)") from None
            except OSError as exc:
                raise OperationError(
                    f"cannot reach {file}: {shown / name}: {exc.strerror}; nothing was changed"
                ) from None
            st = os.fstat(child)
            if stat.S_ISLNK(st.st_mode):
                os.close(child)
                parent = os.fstat(fd)
                target = os.readlink(name, dir_fd=fd)
                if not _only_root_writes(parent) or not _ours(st.st_uid):
                    raise _refused(
                        f"{shown / name} (on the way to {file}) is a symbolic link to {target}",
                        f"in a directory {_owner(parent.st_uid)} may change",
                    )
                links += 1
                if links > MAX_LINKS:
                    raise OperationError(f"{file}: too many symbolic links on the way")
                if target.startswith("/"):
                    os.close(fd)
                    fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                    shown = Path("/")
                parts = [p for p in target.split("/") if p] + parts
                continue
            if not stat.S_ISDIR(st.st_mode):
                os.close(child)
                raise OperationError(f"{shown / name} (on the way to {file}) is not a directory")
            os.close(fd)
            fd = child
            shown = shown.parent if name == ".." else shown / name
        yield fd
    finally:
        os.close(fd)


def _open_regular(directory: int, path: Path, flags: int) -> int | None:
    """``path``'s name in ``directory`` opened without following a link; None if there is none."""
    try:
        fd = os.open(path.name, flags | _O | os.O_NONBLOCK, dir_fd=directory)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            try:
                target = os.readlink(path.name, dir_fd=directory)
            except OSError:
                target = "somewhere (it is gone already)"
            parent = os.fstat(directory)
            raise _refused(
                f"{path} is a symbolic link to {target}", f"(in a directory of {_owner(parent.st_uid)})"
            ) from None
        raise OperationError(f"cannot open {path}: {exc.strerror}; nothing was changed") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_nlink > 1 and not _only_root_writes(os.fstat(directory))):
        os.close(fd)
        why = "is not a regular file" if not stat.S_ISREG(st.st_mode) else "is a hard link to another file"
        raise _refused(f"{path}", why)
    os.set_blocking(fd, True)
    return fd


def read_text(path: Path) -> str | None:
    """``path``'s text, or None if it does not exist; a link there is refused, not followed."""
    with _directory(path.parent, path) as directory:
        fd = _open_regular(directory, path, os.O_RDONLY)
        if fd is None:
            return None
        with os.fdopen(fd, encoding="utf-8") as f:
            return f.read()


def names(directory: Path) -> list[str]:
    """The names in ``directory`` (reached as above), sorted."""
    with _directory(directory, directory) as fd:
        listing = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
        try:
            return sorted(os.listdir(listing))
        finally:
            os.close(listing)


def _give(fd: int, uid: int, gid: int) -> None:
    # Only root may give a file away; a rootless runner's files stay its own (podman's user).
    if os.geteuid() == 0 and (uid, gid) != (0, 0):
        os.fchown(fd, uid, gid)


def _new_file(directory: int, path: Path, label: str) -> tuple[str, int]:
    """A new file beside ``path``, with a name no one can guess beforehand, created exclusively."""
    for _ in range(8):
        name = label.format(token=secrets.token_hex(8))
        try:
            return name, os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O, 0o600, dir_fd=directory)
        except FileExistsError:
            continue
        except OSError as exc:
            raise OperationError(
                f"cannot create a file in {path.parent}: {exc.strerror}; nothing was changed"
            ) from None
    raise OperationError(f"cannot create a file in {path.parent}: every name tried exists; nothing was changed")


def _finish(directory: int, name: str, fd: int, *, kept: bool) -> None:
    """Close ``fd``; unless the new file is ``kept``, remove it: a failure leaves nothing behind."""
    os.close(fd)
    if not kept:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=directory)


def write_atomic(path: Path, text: str, *, new_mode: int = 0o644) -> None:
    """Replace ``path`` with ``text`` so a reader sees the old file or the new one, never half of one.

    The file stays the reader's: an existing one keeps its owner, group and mode (a Grafana
    provisioning file owned by Grafana's user must not become root's 0600, which Grafana cannot
    read); a new one gets ``new_mode`` and its directory's owner and group."""
    with _directory(path.parent, path) as directory:
        old = _open_regular(directory, path, os.O_RDONLY)
        if old is None:
            st, mode = os.fstat(directory), new_mode
        else:
            st = os.fstat(old)
            os.close(old)
            mode = stat.S_IMODE(st.st_mode)
        name, fd = _new_file(directory, path, f".{path.name}.{{token}}.tmp")
        done = False
        try:
            _write_all(fd, text.encode("utf-8"))
            os.fsync(fd)
            os.fchmod(fd, mode)  # while it is still root's: no CAP_FOWNER needed
            _give(fd, st.st_uid, st.st_gid)
            os.replace(name, path.name, src_dir_fd=directory, dst_dir_fd=directory)
            done = True
        except OSError as exc:
            raise OperationError(f"cannot write {path}: {exc.strerror}; it is unchanged") from None
        finally:
            _finish(directory, name, fd, kept=done)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def backup(path: Path) -> Path:
    """A copy of ``path`` beside it, as the original (contents, mode, times, owner and group), under a
    new name: ``NAME.<time>.<random>.bak``. A second backup never overwrites the first."""
    made = backup_if_any(path)
    if made is None:
        raise TargetNotFound(f"{path} does not exist: nothing to back up")
    return made


def backup_if_any(path: Path) -> Path | None:
    """As backup(), or None when there is no ``path`` (a link there is refused, not ignored)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    with _directory(path.parent, path) as directory:
        source = _open_regular(directory, path, os.O_RDONLY)
        if source is None:
            return None
        st = os.fstat(source)
        try:
            name, fd = _new_file(directory, path, f"{path.name}.{stamp}.{{token}}.bak")
        except BaseException:
            os.close(source)
            raise
        done = False
        try:
            while chunk := os.read(source, 1 << 16):
                _write_all(fd, chunk)
            os.fsync(fd)
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
            os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))  # times too, before it is given away
            _give(fd, st.st_uid, st.st_gid)
            done = True
        except OSError as exc:
            raise OperationError(f"cannot back up {path}: {exc.strerror}; nothing was changed") from None
        finally:
            os.close(source)
            _finish(directory, name, fd, kept=done)
    return path.with_name(name)


def backups(path: Path) -> list[str]:
    """The names of ``path``'s backups, oldest first (their names begin with the time they were made)."""
    return [n for n in names(path.parent) if n.startswith(f"{path.name}.") and n.endswith(".bak")]


def latest_backup(path: Path) -> Path | None:
    found = backups(path)
    return path.with_name(found[-1]) if found else None
