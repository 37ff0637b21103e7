"""`RUN --mount=type=cache` contents kept with a local layer cache (type=local, type=gha).

The maintained executor keeps each cache mount's files in `<KANIKO_DIR>/caches/<digest of
its id>/` of the chroot, which goes with the chroot. Where a build has a local layer cache,
those files travel with it as one tarball, `cache-mounts.tar`, beside the layer cache's
entries: unpacked into the new chroot before kaniko starts, and packed from it into
cache-to's new directory after a successful build, so the next build's RUN steps find what
the last ones left (package lists, downloaded modules, compiler caches), as they do with
BuildKit on one machine.

Both ways the content is untrusted, as a cache mount is in BuildKit: what RUN steps wrote.
Unpacking goes through rootfs.LayerApplier from the caches directory's descriptor (no link
followed, nothing lands outside it, no device or fifo made, setuid bits cleared, owners
kept, since they are the chroot's). Packing reads the chroot once kaniko and every process
of the build are gone, from a caches directory reached without following a link, storing
links as links; sockets, fifos and devices are left out. The tarball on the runner is a
regular file of the workspace's owner, of at most MAX_MOUNTS_BYTES of content; more is
left out with a warning, never a failed build. The upstream executor has no cache mounts:
its caches directory stays empty and nothing is packed.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ..utils.fs import (
    DIR_FLAGS,
    NEW_FILE_FLAGS,
    NotRegular,
    TooLarge,
    open_regular_file,
    walk_beneath,
)
from .rootfs import LayerApplier, TreeTooLarge, pack_tree

MOUNTS_FILE = "cache-mounts.tar"
MAX_MOUNTS_BYTES = 4 << 30
_TAR_SLACK = 1 << 30  # headers and padding beyond the content

Owner = tuple[int, int]


def restore_mounts(src: Path, caches: Path) -> int | None:
    """Unpack `src`'s cache-mounts.tar into the chroot's (new) caches directory `caches`;
    the members left out, or None when `src` has no such file."""
    try:
        src_fd = os.open(src, DIR_FLAGS)
    except FileNotFoundError:
        return None
    try:
        try:
            fd = open_regular_file(MOUNTS_FILE, MAX_MOUNTS_BYTES + _TAR_SLACK, dir_fd=src_fd)
        except FileNotFoundError:
            return None
        except (NotRegular, TooLarge) as e:
            raise OSError(f"{MOUNTS_FILE}: {e}") from e
    finally:
        os.close(src_fd)
    with os.fdopen(fd, "rb") as stream:
        caches.mkdir(mode=0o755, parents=True, exist_ok=True)
        root = os.open(caches, DIR_FLAGS)
        try:
            applier = LayerApplier(root, owner=None, writable_dirs=False)
            applier.apply(stream)
            applied = applier.finish()
        finally:
            os.close(root)
    return applied.refused + applied.devices


class MountsPacker:
    """Writes the chroot's caches directory (`caches`, as the chroot sees it) as
    cache-mounts.tar into an open directory, owned by `owner`, when called with it (as
    layer_cache.collect_layer_cache's `extra`). Nothing is written when the directory is
    missing or empty. A failure leaves nothing behind and is kept in `problem`: the layer
    cache is written without the mounts. A directory that has cache-mounts.tar (an earlier
    platform's of the same build) keeps it."""

    def __init__(self, chroot: Path, caches: PurePosixPath, owner: Owner) -> None:
        self.chroot = chroot
        self.caches = caches
        self.owner = owner
        self.packed: int | None = None  # bytes of content kept
        self.problem: str | None = None

    def __call__(self, target: int) -> None:
        try:
            self._pack(target)
        except OSError as e:
            self.problem = f"{e.strerror or e}" + (f": {e.filename}" if e.filename else "")

    def _pack(self, target: int) -> None:
        try:
            fd = walk_beneath(self.chroot, str(self.caches).lstrip("/").split("/"))
        except FileNotFoundError:
            return
        try:
            if not os.listdir(fd) or MOUNTS_FILE in os.listdir(target):
                return
            out = os.open(MOUNTS_FILE, NEW_FILE_FLAGS, 0o644, dir_fd=target)
            try:
                if os.geteuid() == 0:
                    os.fchown(out, *self.owner)
                with os.fdopen(os.dup(out), "wb") as stream:
                    # The directory is pinned by its descriptor: the walk below it cannot
                    # be sent elsewhere by a link swapped in on the way.
                    top = Path(f"/proc/self/fd/{fd}")
                    self.packed = pack_tree(top, stream, MAX_MOUNTS_BYTES)
            except TreeTooLarge:
                os.unlink(MOUNTS_FILE, dir_fd=target)
                raise OSError(
                    f"the cache mounts hold more than {MAX_MOUNTS_BYTES >> 30} GiB; not kept"
                ) from None
            except BaseException:
                os.unlink(MOUNTS_FILE, dir_fd=target)
                raise
            finally:
                os.close(out)
        finally:
            os.close(fd)
