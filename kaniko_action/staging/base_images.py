"""Base images kept with a local layer cache (type=local, type=gha), for kaniko's base-image
cache (`--cache-dir`).

kaniko looks a stage's base image up in its `--cache-dir` by the digest of the image
manifest for its platform (a tag is resolved with one manifest request), reading the
`docker save`-style tarball `<digest>` and the manifest `<digest>.json` its warmer writes;
only with its layer cache on. Where a build has a local layer cache, the action fills that
directory itself before kaniko starts: from cache-from's `base-images/` directory, or by
pulling the image once (each blob streamed to the file, its size and digest checked); and
after a successful build it copies the base images kaniko found there into cache-to's new
directory, so the next build reads its base images from disk and pulls no layer of them.
Stages with the same base read the one file; kaniko alone pulls it for each.

Every copy is checked after it is written, where nothing else writes (the chroot before
kaniko starts, the cache's new directory): the manifest has the digest it is named by, and
the tarball holds exactly that manifest's config and layers, each with its digest. What the
chroot holds after the build is what a RUN step may have written; what cache-from holds
came from a workflow (and a cache restore). An image that fails a check, or cannot be
pulled, is left to kaniko, which pulls it as without a cache: never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError
from ..oci.index import platform_entry
from ..oci.media import IMAGE_MANIFESTS, INDEXES
from ..oci.platform import Platform
from ..oci.tarball import Blob, ImageParts, TarballWriter, Uncacheable, check_tarball, image_parts
from ..registry.client import RegistryClient
from ..spec.references import parse_reference
from ..utils.filecopy import Copier
from ..utils.fs import (
    DIR_FLAGS,
    NEW_FILE_FLAGS,
    NotRegular,
    TooLarge,
    open_regular_file,
)
from .collect import temp_name

BASE_IMAGES_DIR = "base-images"
MAX_BASE_BYTES = 4 << 30  # of base images kept in one cache (GitHub's is 10 GB in all)
_MANIFEST_LIMIT = 4 << 20
_DIGEST_NAME = re.compile(r"^sha256:[0-9a-f]{64}$")

Owner = tuple[int, int]


@dataclass(frozen=True)
class StagedBase:
    """A base image placed in the chroot's base-image cache, and where it came from:
    `cache-from`, `pulled`, or `cache-dir` (the cache-dir input already had it); `unusable`:
    why cache-from's copy was not used."""

    image: str
    digest: str
    source: str
    size: int
    unusable: str | None = None


def cached_digests(directory: Path) -> tuple[str, ...]:
    """The base images a cache directory holds (the names, not checked)."""
    try:
        names = os.listdir(directory / BASE_IMAGES_DIR)
    except (FileNotFoundError, NotADirectoryError):
        return ()
    return tuple(sorted(n for n in names if _DIGEST_NAME.match(n)))


def _parts(manifest: bytes, digest: str) -> ImageParts:
    if "sha256:" + hashlib.sha256(manifest).hexdigest() != digest:
        raise Uncacheable(f"the manifest kept for {digest} does not have that digest")
    return image_parts(manifest)


def _read_small(name: str, dir_fd: int) -> bytes:
    try:
        fd = open_regular_file(name, _MANIFEST_LIMIT, dir_fd=dir_fd)
    except (NotRegular, TooLarge) as e:
        raise Uncacheable(str(e)) from e
    with os.fdopen(fd, "rb") as f:
        return f.read(_MANIFEST_LIMIT + 1)


def _tarball_limit(parts: ImageParts) -> int:
    # Each member's header (a pax header at most for a few long fields) and padding.
    return parts.size + (len(parts.layers) + 2) * 4096 + (1 << 20)


def _settle(fd: int, owner: Owner | None) -> None:
    os.fchmod(fd, 0o644)
    if owner is not None and os.geteuid() == 0:
        os.fchown(fd, *owner)


def _install(dst: int, digest: str, manifest: bytes, tarball: str) -> None:
    """Put the checked tarball (the temporary name `tarball` in `dst`) and its manifest in
    place: the manifest first, since kaniko looks for the tarball."""
    json_tmp = temp_name(digest + ".json")
    fd = os.open(json_tmp, NEW_FILE_FLAGS, 0o644, dir_fd=dst)
    try:
        with os.fdopen(os.dup(fd), "wb") as f:
            f.write(manifest)
    finally:
        os.close(fd)
    try:
        os.rename(json_tmp, digest + ".json", src_dir_fd=dst, dst_dir_fd=dst)
        os.rename(tarball, digest, src_dir_fd=dst, dst_dir_fd=dst)
    except BaseException:
        for name in (json_tmp, tarball):
            _discard(dst, name)
        raise


def copy_base(
    src: int, digest: str, dst: int, owner: Owner | None, limit: int, copier: Copier
) -> int:
    """Copy the base image `digest` from the directory `src` into the directory `dst` (both
    descriptors), checking the copy; its size. Uncacheable (nothing left in `dst`) when the
    entry is missing, too large or fails a check."""
    try:
        manifest = _read_small(digest + ".json", src)
    except FileNotFoundError as e:
        raise Uncacheable(f"{digest}.json is missing") from e
    parts = _parts(manifest, digest)
    if parts.size > limit:
        raise Uncacheable(f"{digest} holds {parts.size} bytes, more than the {limit} left")
    try:
        source = open_regular_file(digest, _tarball_limit(parts), dir_fd=src)
    except (NotRegular, TooLarge) as e:
        raise Uncacheable(str(e)) from e
    except FileNotFoundError as e:
        raise Uncacheable(f"{digest} is missing") from e
    tmp = temp_name(digest)
    try:
        out = os.open(tmp, (NEW_FILE_FLAGS & ~os.O_WRONLY) | os.O_RDWR, 0o644, dir_fd=dst)
        try:
            copier.copy_fd(source, out, os.fstat(source), os.fstat(out).st_dev)
            _settle(out, owner)
            with os.fdopen(os.dup(out), "rb") as reread:
                reread.seek(0)
                problem = check_tarball(reread, parts)
        finally:
            os.close(out)
        if problem is not None:
            raise Uncacheable(f"{digest}: {problem}")
        _install(dst, digest, manifest, tmp)
        _chown_manifest(dst, digest, owner)
    except BaseException:
        _discard(dst, tmp)
        raise
    finally:
        os.close(source)
    return parts.size


def _chown_manifest(dst: int, digest: str, owner: Owner | None) -> None:
    if owner is not None and os.geteuid() == 0:
        os.chown(digest + ".json", *owner, dir_fd=dst, follow_symlinks=False)


def _discard(dst: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dst)


def pull_base(
    client: RegistryClient,
    registry: str,
    repository: str,
    digest: str,
    manifest: bytes,
    dst: int,
    limit: int,
) -> int:
    """Pull the image `digest` (its `manifest`) from `registry/repository` into the
    directory `dst` as kaniko's warmer would; its size."""
    parts = _parts(manifest, digest)
    if parts.size > limit:
        raise Uncacheable(f"it holds {parts.size} bytes, more than the {limit} left")
    tmp = temp_name(digest)
    try:
        fd = os.open(tmp, NEW_FILE_FLAGS, 0o644, dir_fd=dst)
        with os.fdopen(fd, "wb") as stream:
            writer = TarballWriter(stream)
            for blob in parts.blobs:

                def fill(out: BinaryIO, blob: Blob = blob) -> None:
                    client.blob_into(registry, repository, blob.digest, blob.size, out)

                writer.add(parts.member(blob), blob.size, fill)
            writer.finish(parts)
        _install(dst, digest, manifest, tmp)
    except BaseException:
        _discard(dst, tmp)
        raise
    return parts.size


def resolve_base(
    client: RegistryClient, image: str, platform: Platform
) -> tuple[str, str, str, bytes | None]:
    """Where `image`'s blobs are read (registry, repository), the digest of its manifest for
    `platform` (kaniko's cache key), and that manifest when it came with the answer."""
    try:
        ref = parse_reference("file", image)
    except InputError as e:
        raise Uncacheable(f"'{image}' is not an image reference kaniko-build reads") from e
    registry, repository, found = client.pull_source(
        ref.registry, ref.repository, ref.digest or ref.tag or "latest"
    )
    if found.media_type not in INDEXES:
        return registry, repository, found.digest, found.body
    chosen = platform_entry(found.json(), platform)
    if chosen is None:
        raise Uncacheable(f"it has no image for {platform}")
    return registry, repository, chosen, None


def _from_src(
    src: Path | None, digest: str, chroot_cache: int, limit: int, copier: Copier
) -> tuple[int | None, str | None]:
    """Copy `digest` from `src`'s base images into the chroot: its size, or None and why
    the copy there was unusable (None when `src` does not have it)."""
    if src is None:
        return None, None
    try:
        cached = os.open(src / BASE_IMAGES_DIR, DIR_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        return None, None
    try:
        if digest not in os.listdir(cached):
            return None, None
        return copy_base(cached, digest, chroot_cache, None, limit, copier), None
    except Uncacheable as e:
        return None, str(e)
    finally:
        os.close(cached)


def _pinned(image: str) -> str | None:
    try:
        return parse_reference("file", image).digest
    except InputError:
        return None


def stage_base(
    client: RegistryClient,
    image: str,
    platform: Platform,
    chroot_cache: int,
    src: Path | None,
    limit: int,
    copier: Copier,
) -> StagedBase:
    """Place `image` for `platform` in the chroot's base-image cache (a descriptor): already
    there (the cache-dir input), from `src`'s base images, or pulled. An image named by the
    digest of its manifest that `src` has costs no request."""
    pinned = _pinned(image)
    tried: str | None = None
    problem: str | None = None
    if pinned is not None and os.path.lexists(f"/proc/self/fd/{chroot_cache}/{pinned}"):
        return StagedBase(image, pinned, "cache-dir", 0)
    if pinned is not None:
        size, problem = _from_src(src, pinned, chroot_cache, limit, copier)
        if size is not None:
            return StagedBase(image, pinned, "cache-from", size)
        tried = pinned
    registry, repository, digest, manifest = resolve_base(client, image, platform)
    if os.path.lexists(f"/proc/self/fd/{chroot_cache}/{digest}"):
        return StagedBase(image, digest, "cache-dir", 0)
    if digest != tried:
        size, problem = _from_src(src, digest, chroot_cache, limit, copier)
        if size is not None:
            return StagedBase(image, digest, "cache-from", size)
    if manifest is None:
        manifest = client.manifest(registry, repository, digest, IMAGE_MANIFESTS).body
    size = pull_base(client, registry, repository, digest, manifest, chroot_cache, limit)
    return StagedBase(image, digest, "pulled", size, problem)


@dataclass
class BasesPacker:
    """Copies the base images `digests` from the chroot's base-image cache (a descriptor
    reached without following a link) into `base-images/` of an open directory, owned by
    `owner`, when called with it (layer_cache.collect_layer_cache's `extra`); those the
    directory has are kept. What fails a check is left out and named in `left_out`."""

    chroot_cache: int
    digests: Iterable[str]
    owner: Owner
    kept: int = 0
    size: int = 0
    left_out: tuple[tuple[str, str], ...] = ()

    def __call__(self, target: int) -> None:
        wanted = [d for d in dict.fromkeys(self.digests) if _DIGEST_NAME.match(d)]
        if not wanted:
            return
        try:
            os.mkdir(BASE_IMAGES_DIR, 0o755, dir_fd=target)
            if os.geteuid() == 0:
                os.chown(BASE_IMAGES_DIR, *self.owner, dir_fd=target, follow_symlinks=False)
        except FileExistsError:
            pass
        directory = os.open(BASE_IMAGES_DIR, DIR_FLAGS, dir_fd=target)
        left_out: list[tuple[str, str]] = []
        copier = Copier()
        try:
            present = set(os.listdir(directory))
            self.size = sum(_size_of(directory, d) for d in present if _DIGEST_NAME.match(d))
            for digest in wanted:
                if digest in present:
                    self.kept += 1
                    continue
                try:
                    self.size += copy_base(
                        self.chroot_cache, digest, directory, self.owner,
                        MAX_BASE_BYTES - self.size, copier,
                    )  # fmt: skip
                    self.kept += 1
                except Uncacheable as e:
                    left_out.append((digest, str(e)))
                except OSError as e:
                    left_out.append((digest, e.strerror or str(e)))
        finally:
            os.close(directory)
        self.left_out = tuple(left_out)


def _size_of(directory: int, name: str) -> int:
    try:
        return os.stat(name, dir_fd=directory, follow_symlinks=False).st_size
    except OSError:
        return 0
