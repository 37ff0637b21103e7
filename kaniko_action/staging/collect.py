"""Moving the image tarball and OCI layout out of the chroot to where the outputs go.

The chroot's contents are controlled by RUN steps, which run as root there: kaniko's output
directory may hold a symlink to a runner file, a device node or a fifo instead of the
tarball. Nothing here follows a link on either side: the source is opened component by
component with O_NOFOLLOW and must be a regular file (or, for a layout, a tree of directories
and regular files only); the destination's missing parents are created one by one from the
workspace, RUNNER_TEMP or / (for an output elsewhere), refusing links, and given to the
output's owner (the workspace's, or the job's user) so the runner can delete them. A file
is renamed into place, or copied to a hidden name beside it first; a layout is settled in a
directory only root can enter, then renamed into place.
"""

from __future__ import annotations

import errno
import os
import stat
from contextlib import suppress
from pathlib import Path, PurePosixPath

from ..errors import SandboxError
from ..utils.filecopy import Copier, copy_tree
from ..utils.fs import (
    DIR_FLAGS,
    NEW_FILE_FLAGS,
    NotRegular,
    open_regular_beneath,
    remove_at,
    walk_beneath,
)

Owner = tuple[int, int]


def owner_of(base: Path) -> Owner:
    """Who gets what the action writes below `base` (the workspace or RUNNER_TEMP)."""
    st = os.stat(base)
    return st.st_uid, st.st_gid


def _chown(name: str, dir_fd: int, owner: Owner) -> None:
    if os.geteuid() == 0:
        os.chown(name, *owner, dir_fd=dir_fd, follow_symlinks=False)


def open_parent(dest: Path, base: Path, owner: Owner | None = None) -> int:
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


def _settle(fd: int, owner: Owner) -> None:
    """Mode 0644, owned by the output's owner: the runner must be able to delete it."""
    os.fchmod(fd, 0o644)
    if os.geteuid() == 0:
        os.fchown(fd, *owner)


def collect_file(
    root: Path, inside: PurePosixPath, dest: Path, base: Path, owner: Owner | None = None
) -> None:
    """Move the regular file `inside` the chroot at `root` to `dest`, below `base`, owned by
    `owner` (by default `base`'s owner) like the directories made for it."""
    relative = str(inside).lstrip("/")
    owner = owner_of(base) if owner is None else owner
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
            dst_dir = open_parent(dest, base, owner)
            try:
                _move_or_copy(src, src_dir, inside.name, dst_dir, dest, owner)
            finally:
                os.close(dst_dir)
        finally:
            os.close(src_dir)
    finally:
        os.close(src)


def _move_or_copy(
    src: int, src_dir: int, name: str, dst_dir: int, dest: Path, owner: Owner
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
    out = os.open(tmp, NEW_FILE_FLAGS, 0o644, dir_fd=dst_dir)
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


def _settle_tree(top: int, owner: Owner) -> None:
    """The open directory `top` 0755 and everything in it `owner`'s, reached through
    descriptors without following a link."""
    os.fchmod(top, 0o755)
    if os.geteuid() != 0:
        return
    os.fchown(top, *owner)
    for _path, dirnames, filenames, dir_fd in os.fwalk(".", dir_fd=top):
        for name in dirnames + filenames:
            os.chown(name, *owner, dir_fd=dir_fd, follow_symlinks=False)


def _open_private(parent: int, name: str) -> int:
    """The directory root just made as `name` in `parent`, opened, and checked to be that
    one (root's, 0700): `parent` may belong to the job's user, who could swap it."""
    fd = os.open(name, DIR_FLAGS, dir_fd=parent)
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or st.st_mode & 0o077:
        os.close(fd)
        raise SandboxError(f"the directory {name} made for an output was replaced")
    return fd


def collect_tree(
    root: Path, inside: PurePosixPath, dest: Path, base: Path, owner: Owner | None = None
) -> None:
    """Move the directory `inside` the chroot at `root` to `dest`, below `base`, everything
    in it `owner`'s (by default `base`'s owner).

    The tree is settled in a hidden directory beside `dest` that only root can enter, then
    renamed into place: nothing on the way to what is changed can be swapped for a link
    meanwhile. `dest` may only exist as an empty directory or an earlier OCI layout (the
    spec checked); it is replaced once the new tree is complete.
    """
    owner = owner_of(base) if owner is None else owner
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
    dst_dir = open_parent(dest, base, owner)
    try:
        hidden = temp_name(dest.name)
        os.mkdir(hidden, 0o700, dir_fd=dst_dir)
        try:
            private = _open_private(dst_dir, hidden)
            try:
                _place_tree(root, parts, private)
                tree = os.open(_TREE, DIR_FLAGS, dir_fd=private)
                try:
                    _settle_tree(tree, owner)
                finally:
                    os.close(tree)
                _replace(dst_dir, dest)
                os.rename(_TREE, dest.name, src_dir_fd=private, dst_dir_fd=dst_dir)
            finally:
                os.close(private)
        except BaseException:
            with suppress(OSError):  # the first error is the one to tell
                remove_at(dst_dir, hidden)
            raise
        os.rmdir(hidden, dir_fd=dst_dir)
    finally:
        os.close(dst_dir)


# The tree's name inside the hidden directory collect_tree settles it in.
_TREE = "tree"


def _place_tree(root: Path, parts: tuple[str, ...], private: int) -> None:
    """Move the directory `root/parts...` into the open directory `private` as _TREE, or
    copy it there from another filesystem (regular files 0644, directories 0755)."""
    src_dir = walk_beneath(root, parts[:-1])
    try:
        os.rename(parts[-1], _TREE, src_dir_fd=src_dir, dst_dir_fd=private)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        # Through the descriptor: nobody but root can enter `private`.
        copy_tree(root.joinpath(*parts), f"/proc/self/fd/{private}/{_TREE}", keep_metadata=False)
    finally:
        os.close(src_dir)


def _replace(parent: int, dest: Path) -> None:
    """Remove what is at `dest` (an empty directory or an earlier layout) to make room."""
    try:
        st = os.stat(dest.name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        raise SandboxError(f"refusing to replace {dest}: it is not a directory")
    remove_at(parent, dest.name, dest)
