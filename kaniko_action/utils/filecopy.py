"""Copying runner files into the chroot without sharing them.

A RUN step can write anywhere in the chroot (`chmod -R`, `chown -R`, `>>`), so what is placed
there must not be the runner's own file: never a hard link. Where the filesystem has reflinks
(XFS, btrfs, bcachefs) a copy is a FICLONE ioctl: no bytes move and a later write only changes
the copy. Elsewhere the bytes are copied in the kernel (copy_file_range) in bounded pieces,
only the file's data extents, so a sparse file stays sparse and memory stays flat.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from dataclasses import dataclass
from typing import Union

from .fs import NEW_FILE_FLAGS

FilePath = Union[str, bytes, "os.PathLike[str]"]

FICLONE = 0x40049409  # _IOW(0x94, 9, int) from linux/fs.h
CHUNK = 8 * 1024 * 1024
# The filesystem (or the pair of filesystems) cannot share extents.
_NO_REFLINK = frozenset({errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.ENOSYS})
# copy_file_range is not available for this pair: copy through user space.
_NO_COPY_RANGE = frozenset({errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL})
# O_NONBLOCK: a file swapped for a fifo after it was looked at must not hang the copy.
_OPEN_SOURCE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


@dataclass
class CopyStats:
    files: int = 0
    reflinked: int = 0
    bytes_copied: int = 0


class Copier:
    """Copies regular files, remembering which filesystem pairs have no reflinks (one failed
    ioctl per pair, not one per file)."""

    def __init__(self) -> None:
        self.stats = CopyStats()
        self._no_reflink: set[tuple[int, int]] = set()
        self._no_copy_range: set[tuple[int, int]] = set()

    def _reflink(self, src: int, dst: int, devices: tuple[int, int]) -> bool:
        if devices in self._no_reflink:
            return False
        try:
            fcntl.ioctl(dst, FICLONE, src)
        except OSError as e:
            if e.errno in _NO_REFLINK:
                self._no_reflink.add(devices)
            elif e.errno != errno.EINVAL:  # EINVAL: not this file (say, a swap file)
                raise
            return False
        return True

    def _copy_range(
        self, src: int, dst: int, start: int, end: int, devices: tuple[int, int]
    ) -> None:
        offset = start
        while offset < end:
            count = min(CHUNK, end - offset)
            done = 0
            if devices not in self._no_copy_range:
                try:
                    done = os.copy_file_range(src, dst, count, offset, offset)
                except OSError as e:
                    if e.errno not in _NO_COPY_RANGE:
                        raise
                    self._no_copy_range.add(devices)
                    continue
            else:
                data = memoryview(os.pread(src, count, offset))
                done = len(data)
                written = 0
                while written < done:
                    written += os.pwrite(dst, data[written:], offset + written)
            if done == 0:  # the file shrank while being copied
                break
            offset += done
            self.stats.bytes_copied += done

    def _data_extents(self, src: int, size: int) -> list[tuple[int, int]]:
        """(start, end) of the data in `src`, holes left out; everything if the filesystem
        cannot tell."""
        extents: list[tuple[int, int]] = []
        offset = 0
        while offset < size:
            try:
                start = os.lseek(src, offset, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:  # only a hole is left
                    break
                return [(0, size)]
            end = min(os.lseek(src, start, os.SEEK_HOLE), size)
            if end > start:
                extents.append((start, end))
            offset = end
        return extents

    def copy_fd(self, src: int, dst: int, st: os.stat_result, dst_dev: int) -> None:
        """Make the empty file `dst` a copy of the content of `src` (whose stat is `st`)."""
        size = st.st_size
        self.stats.files += 1
        if size == 0:
            return
        devices = (st.st_dev, dst_dev)
        if self._reflink(src, dst, devices):
            self.stats.reflinked += 1
            return
        # A fully allocated file has no holes to look for.
        full = st.st_blocks * 512 >= size
        extents = [(0, size)] if full else self._data_extents(src, size)
        for start, end in extents:
            self._copy_range(src, dst, start, end, devices)
        if not extents or extents[-1][1] < size:
            os.ftruncate(dst, size)

    def copy_file(
        self,
        src: FilePath,
        dst: FilePath,
        *,
        follow_symlinks: bool = False,
        keep_metadata: bool = True,
    ) -> os.stat_result:
        """Create `dst` (which must not exist) as a copy of the regular file `src`: content,
        and permission bits and times unless `keep_metadata` is false (then 0644 and the
        time of the copy); owned by whoever runs this. Returns the source's stat."""
        fd_in = os.open(src, _OPEN_SOURCE & ~os.O_NOFOLLOW if follow_symlinks else _OPEN_SOURCE)
        try:
            st = os.fstat(fd_in)
            if not stat.S_ISREG(st.st_mode):
                raise OSError(errno.EINVAL, "not a regular file", src)
            fd_out = os.open(dst, NEW_FILE_FLAGS, 0o600)
            try:
                self.copy_fd(fd_in, fd_out, st, os.fstat(fd_out).st_dev)
                if keep_metadata:
                    os.fchmod(fd_out, stat.S_IMODE(st.st_mode))
                    os.utime(fd_out, ns=(st.st_atime_ns, st.st_mtime_ns))
                else:
                    os.fchmod(fd_out, 0o644)
            finally:
                os.close(fd_out)
        finally:
            os.close(fd_in)
        return st


def copy_tree(
    src: FilePath, dst: FilePath, copier: Copier | None = None, *, keep_metadata: bool = True
) -> Copier:
    """Copy a directory tree without recursion (any depth): directories, regular files (as
    `Copier.copy_file`) and symlinks (as links, never followed); sockets, fifos and devices
    are left out. Modes and times are kept, ownership is not. Without `keep_metadata` (a tree
    whose modes a build chose): files 0644, directories 0755, fresh times, no symlinks."""
    copier = copier or Copier()
    src_b, dst_b = os.fsencode(src), os.fsencode(dst)
    top = os.lstat(src_b)
    os.mkdir(dst_b, 0o700)
    stack: list[tuple[bytes, bytes, os.stat_result, bool]] = [(src_b, dst_b, top, False)]
    while stack:
        source, target, st, done = stack.pop()
        if done:  # after its content: times last, as adding entries changed them
            if keep_metadata:
                os.chmod(target, stat.S_IMODE(st.st_mode))
                os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
            else:
                os.chmod(target, 0o755)
            continue
        stack.append((source, target, st, True))
        with os.scandir(source) as entries:
            for entry in entries:
                path, dest = entry.path, os.path.join(target, entry.name)
                est = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(est.st_mode):
                    os.mkdir(dest, 0o700)
                    stack.append((path, dest, est, False))
                elif stat.S_ISREG(est.st_mode):
                    copier.copy_file(path, dest, keep_metadata=keep_metadata)
                elif stat.S_ISLNK(est.st_mode) and keep_metadata:
                    os.symlink(os.readlink(path), dest)
                    os.utime(dest, ns=(est.st_atime_ns, est.st_mtime_ns), follow_symlinks=False)
    return copier
