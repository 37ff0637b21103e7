"""Moving the image tarball and OCI layout out of the chroot into the workspace.

The chroot's contents are controlled by RUN steps, which run as root there: kaniko's output
directory may hold a symlink to a runner file, a device node or a fifo instead of the
tarball. Nothing here follows a link on either side: the source is opened component by
component with O_NOFOLLOW and must be a regular file (or, for a layout, a tree of directories
and regular files only); the destination's missing parents are created one by one, refusing
links, and given to the owner of the workspace so the runner can delete them.
"""

from __future__ import annotations

import errno
import os
import stat
from contextlib import suppress
from pathlib import Path, PurePosixPath

from ..errors import SandboxError
from ..utils.filecopy import Copier, copy_tree
from ..utils.fs import NotRegular, open_regular_beneath, remove_tree, walk_beneath


def owner_of(base: Path) -> tuple[int, int]:
    """Who gets what the action writes below `base` (the workspace or RUNNER_TEMP)."""
    st = os.stat(base)
    return st.st_uid, st.st_gid


def _chown(name: str, dir_fd: int, owner: tuple[int, int]) -> None:
    if os.geteuid() == 0:
        os.chown(name, *owner, dir_fd=dir_fd, follow_symlinks=False)


def open_parent(dest: Path, base: Path, owner: tuple[int, int] | None = None) -> int:
    """A descriptor of `dest`'s parent directory, reached from `base` without following a
    link, its missing directories made as `owner` (by default `base`'s owner)."""
    owner = owner_of(base) if owner is None else owner

    def make(parent: int, name: str) -> None:
        os.mkdir(name, 0o755, dir_fd=parent)
        _chown(name, parent, owner)

    try:
        return walk_beneath(base, dest.parent.relative_to(base).parts, make)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise SandboxError(
                f"cannot write {dest}: {e.filename} on the way is not a directory"
            ) from e
        raise


def temp_name(name: str) -> str:
    """A hidden name beside `name` for what is renamed to it once complete."""
    return f".{name}.kaniko-build-{os.urandom(4).hex()}"


def _settle(fd: int, owner: tuple[int, int]) -> None:
    """Mode 0644, owned by the workspace's owner: the runner must be able to delete it."""
    os.fchmod(fd, 0o644)
    if os.geteuid() == 0:
        os.fchown(fd, *owner)


def collect_file(root: Path, inside: PurePosixPath, dest: Path, base: Path) -> None:
    """Move the regular file `inside` the chroot at `root` to `dest`, below `base`."""
    relative = str(inside).lstrip("/")
    owner = owner_of(base)
    try:
        src = open_regular_beneath(root, relative)
    except NotRegular as e:
        raise SandboxError(
            f"refusing to collect {inside}: the build replaced it with something that is "
            "not a regular file"
        ) from e
    try:
        src_dir = walk_beneath(root, tuple(relative.split("/")[:-1]))
        try:
            dst_dir = open_parent(dest, base)
            try:
                _move_or_copy(src, src_dir, inside.name, dst_dir, dest, owner)
            finally:
                os.close(dst_dir)
        finally:
            os.close(src_dir)
    finally:
        os.close(src)


def _move_or_copy(
    src: int, src_dir: int, name: str, dst_dir: int, dest: Path, owner: tuple[int, int]
) -> None:
    _settle(src, owner)
    try:
        os.rename(name, dest.name, src_dir_fd=src_dir, dst_dir_fd=dst_dir)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
    else:
        moved = os.stat(dest.name, dir_fd=dst_dir, follow_symlinks=False)
        original = os.fstat(src)
        if (moved.st_ino, moved.st_dev) != (original.st_ino, original.st_dev):
            raise SandboxError(f"{dest} changed while it was collected")
        return
    # Another filesystem: copy through the descriptor already checked, then rename.
    tmp = temp_name(dest.name)
    out = os.open(
        tmp,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o644,
        dir_fd=dst_dir,
    )
    try:
        Copier().copy_fd(src, out, os.fstat(src), os.fstat(out).st_dev)
        _settle(out, owner)
    except BaseException:
        os.close(out)
        with suppress(OSError):
            os.unlink(tmp, dir_fd=dst_dir)
        raise
    os.close(out)
    os.rename(tmp, dest.name, src_dir_fd=dst_dir, dst_dir_fd=dst_dir)


def _check_tree(top: Path) -> None:
    """Refuse a tree holding anything but directories and regular files."""
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            mode = os.lstat(os.path.join(dirpath, name)).st_mode
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                shown = os.path.relpath(os.path.join(dirpath, name), top)
                raise SandboxError(
                    f"refusing to collect the OCI layout: {shown} in it is not a regular file"
                )


def _chown_tree(top: Path, owner: tuple[int, int]) -> None:
    if os.geteuid() != 0:
        return
    os.chown(top, *owner, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), *owner, follow_symlinks=False)


def collect_tree(root: Path, inside: PurePosixPath, dest: Path, base: Path) -> None:
    """Move the directory `inside` the chroot at `root` to `dest`, below `base`.

    `dest` may only exist as an empty directory or an earlier OCI layout (the spec checked);
    it is replaced.
    """
    relative = str(inside).lstrip("/")
    parts = tuple(relative.split("/"))
    # Opening the path one component at a time refuses a link anywhere on the way.
    try:
        os.close(walk_beneath(root, parts))
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise SandboxError(
                f"refusing to collect {inside}: the build replaced it, or a directory on the "
                "way, with a link"
            ) from e
        raise
    source = root / relative
    _check_tree(source)
    dst_dir = open_parent(dest, base)
    try:
        if os.path.lexists(dest):
            if os.path.islink(dest) or not os.path.isdir(dest):
                raise SandboxError(f"refusing to replace {dest}: it is not a directory")
            remove_tree(dest)
        src_dir = walk_beneath(root, parts[:-1])
        try:
            os.rename(inside.name, dest.name, src_dir_fd=src_dir, dst_dir_fd=dst_dir)
        except OSError as e:
            if e.errno != errno.EXDEV:
                raise
            copy_tree(source, dest, keep_metadata=False)
        finally:
            os.close(src_dir)
    finally:
        os.close(dst_dir)
    with suppress(OSError):
        os.chmod(dest, 0o755)
    _chown_tree(dest, owner_of(base))
