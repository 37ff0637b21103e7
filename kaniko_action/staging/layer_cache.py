"""A local layer cache (`type=local` in cache-from / cache-to) into the chroot and back.

kaniko's layer cache here is a directory of OCI layouts, one per cache key, named
`kaniko:<key>` (sandbox/layout.py). Before the build the entries of the `src` directory are
copied into the chroot; after a successful build the entries the build looked up or made
(the executor's log names their keys) are copied to `dest`, which is then replaced whole,
as BuildKit's local cache exporter replaces its directory.

Both ways every entry is checked as it is copied, and one that fails a check is left out
with a reason, never an error: it holds only `oci-layout`, `index.json` and
`blobs/sha256/<hex>` regular files (no links, nothing else, opened without following links
and without blocking), each blob's content has the digest it is named by, the index and the
manifest name only blobs the entry has, and sizes are bounded. What comes out of the chroot
is what a RUN step may have written; what goes in comes from a directory a workflow (and a
cache restore) filled. A truncated blob would fail kaniko's build; a skipped entry is a cache
miss. The cache on the runner belongs to the workspace's owner, never to root.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from ..errors import SandboxError
from ..sandbox.layout import LAYER_CACHE_NAME
from ..spec.paths import LAYER_CACHE_MARKER
from ..utils.fs import (
    DIR_FLAGS,
    NotRegular,
    TooLarge,
    open_regular_file,
    remove_beneath,
    remove_tree,
)
from .base_images import BASE_IMAGES_DIR
from .cache_mounts import MOUNTS_FILE
from .collect import open_parent, temp_name

ENTRY = re.compile(rf"^{re.escape(LAYER_CACHE_NAME)}:([0-9a-f]{{64}})$")
_BLOB = re.compile(r"^[0-9a-f]{64}$")
_SMALL_FILE = 1 << 20  # oci-layout, index.json, a manifest: far less in kaniko's entries
MAX_CACHE_BYTES = 10 << 30  # the GitHub Actions cache's limit per repository
_CHUNK = 1 << 20


class Unusable(Exception):
    """Why a cache entry is left out."""


@dataclass(frozen=True)
class Copied:
    """The entries copied (their keys), those left out with why, and the bytes copied."""

    keys: tuple[str, ...] = ()
    left_out: tuple[tuple[str, str], ...] = ()
    size: int = 0

    def describe(self, where: str) -> str | None:
        """A warning about the entries left out, or None."""
        if not self.left_out:
            return None
        name, why = self.left_out[0]
        more = f" (and {len(self.left_out) - 1} more)" if len(self.left_out) > 1 else ""
        return (
            f"{len(self.left_out)} layer cache entr{'ies' if len(self.left_out) > 1 else 'y'} "
            f"of {where} left out, as cache misses: {name}: {why}{more}"
        )


Owner = tuple[int, int]


def _open_dir(parent: int, name: str) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent)
    except OSError as e:
        raise Unusable(f"{name} is not a directory of its own ({e.strerror})") from e


def _names(fd: int) -> set[str]:
    return set(os.listdir(fd))


def _copy_file(
    src_dir: int, name: str, dst_dir: int, owner: Owner | None, limit: int
) -> tuple[str, bytes | None, int]:
    """Copy one regular file; its sha256 hex digest, its content if small, its size."""
    try:
        src = open_regular_file(name, limit, dir_fd=src_dir)
    except (NotRegular, TooLarge) as e:
        raise Unusable(str(e)) from e
    except OSError as e:
        raise Unusable(f"{name} cannot be opened as a file ({e.strerror})") from e
    try:
        dst = os.open(
            name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644, dir_fd=dst_dir
        )
        try:
            if owner is not None:
                os.fchown(dst, *owner)
            digest = hashlib.sha256()
            kept = bytearray()
            size = 0
            while chunk := os.read(src, _CHUNK):
                size += len(chunk)
                if size > limit:
                    raise Unusable(f"{name} grew past {limit} bytes")
                digest.update(chunk)
                if size <= _SMALL_FILE:
                    kept += chunk
                view = memoryview(chunk)
                while view:  # os.write may write less than it is given
                    view = view[os.write(dst, view) :]
        finally:
            os.close(dst)
        return digest.hexdigest(), bytes(kept) if size <= _SMALL_FILE else None, size
    finally:
        os.close(src)


def _make_dir(parent: int, name: str, owner: Owner | None) -> int:
    os.mkdir(name, 0o755, dir_fd=parent)
    fd = os.open(name, DIR_FLAGS, dir_fd=parent)
    if owner is not None:
        os.fchown(fd, *owner)
    return fd


def _digests(document: bytes | None, what: str) -> list[str]:
    """The sha256 hex digests an index or manifest names."""
    if document is None:
        raise Unusable(f"{what} is too large")
    try:
        data = json.loads(document)
    except ValueError as e:
        raise Unusable(f"{what} is not JSON") from e
    if not isinstance(data, dict):
        raise Unusable(f"{what} is not a JSON object")
    descriptors = list(data.get("manifests") or [])
    if isinstance(data.get("config"), dict):
        descriptors.append(data["config"])
    descriptors += list(data.get("layers") or [])
    found = []
    for item in descriptors:
        digest = item.get("digest") if isinstance(item, dict) else None
        if not isinstance(digest, str) or not digest.startswith("sha256:"):
            raise Unusable(f"{what} names a blob without a sha256 digest")
        found.append(digest[len("sha256:") :])
    return found


def _copy_entry(
    src_parent: int, name: str, dst_parent: int, owner: Owner | None, budget: int
) -> int:
    """Copy and check one entry into `dst_parent/name` (made here); its size in bytes."""
    entry = _open_dir(src_parent, name)
    made = _make_dir(dst_parent, name, owner)
    try:
        if _names(entry) != {"oci-layout", "index.json", "blobs"}:
            raise Unusable("it holds other files than oci-layout, index.json and blobs/")
        _copy_file(entry, "oci-layout", made, owner, _SMALL_FILE)
        _, index, size = _copy_file(entry, "index.json", made, owner, _SMALL_FILE)
        blobs_src = _open_dir(entry, "blobs")
        try:
            if _names(blobs_src) != {"sha256"}:
                raise Unusable("blobs/ holds other directories than sha256/")
            sha_src = _open_dir(blobs_src, "sha256")
            try:
                blobs_dst = _make_dir(made, "blobs", owner)
                try:
                    sha_dst = _make_dir(blobs_dst, "sha256", owner)
                finally:
                    os.close(blobs_dst)
                try:
                    contents: dict[str, bytes | None] = {}
                    for blob in sorted(_names(sha_src)):
                        if not _BLOB.match(blob):
                            raise Unusable(f"blobs/sha256/{blob} is not named by a digest")
                        digest, content, blob_size = _copy_file(
                            sha_src, blob, sha_dst, owner, budget - size
                        )
                        if digest != blob:
                            raise Unusable(f"blobs/sha256/{blob} does not have that digest")
                        size += blob_size
                        contents[blob] = content
                finally:
                    os.close(sha_dst)
            finally:
                os.close(sha_src)
        finally:
            os.close(blobs_src)
        manifests = _digests(index, "index.json")
        if not manifests:
            raise Unusable("index.json names no manifest")
        for manifest in manifests:
            if manifest not in contents:
                raise Unusable(f"the manifest {manifest} is missing")
            for blob in _digests(contents[manifest], f"the manifest {manifest}"):
                if blob not in contents:
                    raise Unusable(f"the blob {blob} of its manifest is missing")
        return size
    finally:
        os.close(made)
        os.close(entry)


def copy_entries(
    src: int,
    dst: int,
    dst_path: Path,
    owner: Owner | None,
    wanted: Callable[[str], bool] = lambda _key: True,
) -> Copied:
    """Copy the entries of the directory `src` (a descriptor) that `wanted(key)` into the
    directory `dst` (a descriptor of `dst_path`), checking each; an entry that fails is
    removed from `dst` again."""
    keys: list[str] = []
    left_out: list[tuple[str, str]] = []
    total = 0
    for name in sorted(_names(src)):
        match = ENTRY.match(name)
        if match is None:
            if name not in (LAYER_CACHE_MARKER, MOUNTS_FILE, BASE_IMAGES_DIR):  # its own
                left_out.append((name, "it is not named kaniko:<cache key>"))
            continue
        if not wanted(match.group(1)):
            continue
        try:
            total += _copy_entry(src, name, dst, owner, MAX_CACHE_BYTES - total)
        except Unusable as e:
            left_out.append((name, str(e)))
            remove_beneath(dst_path, (name,))
            continue
        keys.append(match.group(1))
    return Copied(tuple(keys), tuple(left_out), total)


def stage_layer_cache(src: Path, chroot_dir: Path) -> Copied | None:
    """The entries of the runner's `src` copied into the chroot's cache directory (made
    here); None when `src` does not exist (a first run)."""
    try:
        src_fd = os.open(src, DIR_FLAGS)
    except FileNotFoundError:
        return None
    try:
        chroot_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        dst_fd = os.open(chroot_dir, DIR_FLAGS)
        try:
            return copy_entries(src_fd, dst_fd, chroot_dir, None)
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)


def collect_layer_cache(
    chroot_dir: int,
    dest: Path,
    owner: Owner,
    keys: Collection[str],
    merge: bool = False,
    extra: Callable[[int], None] | None = None,
) -> Copied:
    """Copy the entries of the chroot's cache directory (a descriptor opened without
    following links) whose keys the build looked up or made to a new directory next to
    `dest`, then put it in `dest`'s place; with `merge`, add them to `dest` instead (the
    second and later platforms of one build). `dest` must be absent, empty, or a cache an
    earlier build wrote (it has the marker file); else nothing is written (the Copied
    says why). `extra` writes more into the new directory, or into `dest` with `merge`
    (given its descriptor), before it takes `dest`'s place."""
    wanted = set(keys)
    problem = _unreplaceable(dest)
    if problem is not None:
        return Copied(left_out=(("(all)", problem),))
    try:
        # From / without following a link: dest may be anywhere (Docker's /tmp/.buildx-cache).
        parent = open_parent(dest, Path("/"), owner)
    except SandboxError as e:
        return Copied(left_out=(("(all)", str(e)),))
    try:
        if merge and os.path.isdir(dest):
            target = os.open(dest.name, DIR_FLAGS, dir_fd=parent)
            try:
                present = _names(target)
                copied = copy_entries(
                    chroot_dir,
                    target,
                    dest,
                    owner,
                    lambda key: key in wanted and f"{LAYER_CACHE_NAME}:{key}" not in present,
                )
                if extra is not None:
                    extra(target)
                _mark(target, owner)
                return copied
            finally:
                os.close(target)
        new = temp_name(dest.name)
        target = _make_dir(parent, new, owner)
        try:
            copied = copy_entries(
                chroot_dir, target, dest.parent / new, owner, lambda key: key in wanted
            )
            if extra is not None:
                extra(target)
            _mark(target, owner)
        except BaseException:
            os.close(target)
            remove_tree(dest.parent / new)
            raise
        os.close(target)
        _swap_in(parent, new, dest)
        return copied
    finally:
        os.close(parent)


def _unreplaceable(dest: Path) -> str | None:
    """Why `dest` may not be replaced by a cache: only a missing or empty directory, or a
    cache an earlier build wrote (it has the marker file), may be."""
    if os.path.lexists(dest):
        if os.path.islink(dest) or not os.path.isdir(dest):
            return f"{dest} is not a directory"
        if os.listdir(dest) and not os.path.isfile(dest / LAYER_CACHE_MARKER):
            return f"{dest} holds files that are not a kaniko-build cache"
    return None


def _swap_in(parent: int, new: str, dest: Path) -> None:
    """Rename `new` (in the directory `parent`, dest's) to dest's name; what was there goes."""
    old = temp_name(dest.name)
    if os.path.lexists(dest):
        os.rename(dest.name, old, src_dir_fd=parent, dst_dir_fd=parent)
    os.rename(new, dest.name, src_dir_fd=parent, dst_dir_fd=parent)
    if os.path.lexists(dest.parent / old):
        remove_tree(dest.parent / old)


def pending_for(dest: Path) -> Path:
    """Where the caches of several platforms' builds gather before they replace `dest`
    (`promote`): beside it, so that every platform reads `dest` as it was."""
    return dest.parent / temp_name(dest.name)


def promote(pending: Path, dest: Path, owner: Owner) -> str | None:
    """Put `pending` in `dest`'s place; why not (then `pending` is removed), or None. Without
    `pending` (no platform's cache was written) `dest` stays as it is."""
    if not os.path.lexists(pending):
        return None
    problem = _unreplaceable(dest)
    if problem is None:
        try:
            parent = open_parent(dest, Path("/"), owner)
        except SandboxError as e:
            problem = str(e)
        else:
            try:
                _swap_in(parent, pending.name, dest)
                return None
            finally:
                os.close(parent)
    remove_tree(pending)
    return problem


def _mark(directory: int, owner: Owner) -> None:
    fd = os.open(
        LAYER_CACHE_MARKER, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o644, dir_fd=directory,
    )  # fmt: skip
    try:
        os.fchown(fd, *owner)
        os.write(fd, b"kaniko's layer cache, one OCI layout per cache key (kaniko-build)\n")
    finally:
        os.close(fd)
