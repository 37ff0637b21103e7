"""Filesystem helpers that never cross a mount point."""

from __future__ import annotations

import os
import stat
from pathlib import Path


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
