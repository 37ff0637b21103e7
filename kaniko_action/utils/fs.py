"""Filesystem helpers that never cross a mount point."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from .linux import detach_mount


def _unescape_mountinfo(field: str) -> str:
    return (
        field.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
    )


def mount_points(mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Mount points of this process's mount namespace."""
    try:
        with open(mountinfo, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return [_unescape_mountinfo(line.split(" ")[4]) for line in lines if len(line.split(" ")) > 4]


def mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    return [m for m in mount_points() if m == str(path) or m.startswith(prefix)]


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner (root) can read, in a directory only it can enter."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


class CrossesMount(OSError):
    pass


def remove_tree(path: Path) -> None:
    """Delete `path` and everything below it without following links or crossing mounts.

    A directory on another device, or listed as a mount point, is not entered: the removal
    stops with CrossesMount, leaving the mount and what leads to it in place.
    """
    try:
        top = os.lstat(path)
    except FileNotFoundError:
        return
    mounted = mounts_under(path)
    if mounted:
        raise CrossesMount(
            f"refusing to delete {path}: mount points below it: {', '.join(mounted)}"
        )
    if not stat.S_ISDIR(top.st_mode):
        os.unlink(path)
        return
    _remove_dir_contents(path, top.st_dev)
    os.rmdir(path)


def _remove_dir_contents(path: Path, device: int) -> None:
    with os.scandir(path) as entries:
        items = list(entries)
    for entry in items:
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            if st.st_dev != device:
                raise CrossesMount(f"refusing to delete {entry.path}: it is on another filesystem")
            # A directory without write or search permission (chmod 000 in a RUN step, say).
            os.chmod(entry.path, 0o700)
            _remove_dir_contents(Path(entry.path), device)
            os.rmdir(entry.path)
        else:
            os.unlink(entry.path)


def unmount_under(path: Path) -> list[str]:
    """Detach every mount at or below `path`, deepest first; returns those still mounted.

    A RUN step runs as root inside the chroot and may mount anything there (a tmpfs, a
    proc, a block device it made a node for). Detaching leaves the mounted data alone and
    lets the work directory be removed without ever reaching into it.
    """
    for _attempt in range(5):
        mounted = sorted(set(mounts_under(path)), key=lambda m: m.count("/"), reverse=True)
        if not mounted:
            return []
        for point in mounted:
            detach_mount(point)
    return mounts_under(path)


DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def walk_beneath(
    root: Path, parts: Sequence[str], make: Callable[[int, str], None] | None = None
) -> int:
    """A descriptor of the directory `root/parts...`, opened one component at a time with
    O_NOFOLLOW: a symlink anywhere on the way is refused (ELOOP or ENOTDIR, the error's
    filename the component). A missing component is made by `make(parent_fd, name)` when
    given (FileNotFoundError otherwise)."""
    fd = os.open(root, DIR_FLAGS)
    try:
        for part in parts:
            if part in ("", ".", ".."):
                raise OSError(f"unsafe path component {part!r} below {root}")
            try:
                next_fd = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if make is None:
                    raise
                make(fd, part)
                next_fd = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


class NotRegular(OSError):
    """A path that should be a regular file is a symlink, device, directory or fifo."""


def open_regular_beneath(root: Path, relative: str) -> int:
    """Open `root/relative` for reading without following any symlink on the way, and only
    if it is a regular file. The chroot's contents are controlled by RUN steps: a file there
    may have been replaced by a link to a runner file, or a directory on the way by a link
    to a runner directory."""
    parts = tuple(p for p in relative.strip("/").split("/"))
    try:
        dir_fd = walk_beneath(root, parts[:-1])
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise NotRegular(f"a directory on the way to {root}/{relative} is a link") from e
        raise
    try:
        try:
            fd = os.open(
                parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
            )
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise NotRegular(f"{root}/{relative} is a symbolic link") from e
            raise
    finally:
        os.close(dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegular(f"{root}/{relative} is not a regular file")
    return fd


def read_regular_beneath(root: Path, relative: str, limit: int = 1 << 20) -> bytes:
    """The content (at most `limit` bytes) of a regular file below `root`, links refused."""
    fd = open_regular_beneath(root, relative)
    with os.fdopen(fd, "rb") as f:
        return f.read(limit)


def hand_back(fd: int, directory: Path) -> None:
    """Give a file root just created to the owner of the directory it is in."""
    if os.geteuid() != 0:
        return
    st = os.stat(directory)
    if (st.st_uid, st.st_gid) != (0, 0):
        os.fchown(fd, st.st_uid, st.st_gid)
