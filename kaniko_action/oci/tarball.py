"""`docker save`-style image tarballs: what kaniko's `--tar-path` writes, and what its
base-image cache (`--cache-dir`, filled by its warmer) holds."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def image_id(tar_path: Path) -> str | None:
    """The config digest recorded in a `docker save`-style tarball's manifest.json."""
    import tarfile  # loaded when needed: it costs milliseconds

    try:
        with tarfile.open(tar_path) as tar:
            member = tar.extractfile("manifest.json")
            if member is None:
                return None
            manifest = json.loads(member.read())
        config = manifest[0]["Config"]
    except (OSError, ValueError, KeyError, IndexError, TypeError, tarfile.TarError):
        return None
    if not isinstance(config, str):
        return None
    digest = config if config.startswith("sha256:") else "sha256:" + config.rsplit("/", 1)[-1]
    return digest if _DIGEST.match(digest) else None


# --------------------------------------------------------------- kaniko's base-image cache

TARBALL_MANIFEST = "manifest.json"
_BLOCK = 512
_GZIP_LAYERS = frozenset(
    {
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
    }
)
_SMALL = 1 << 20  # manifest.json of an image of a few hundred layers is far smaller


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int


@dataclass(frozen=True)
class ImageParts:
    """What a `docker save`-style tarball of one image holds, as its registry manifest
    describes it: the config and the layers, in order (a layer may appear twice)."""

    config: Blob
    layers: tuple[Blob, ...]

    @property
    def blobs(self) -> tuple[Blob, ...]:
        """The config and the layers, each once: the tarball's members besides its manifest."""
        return tuple(dict.fromkeys((self.config, *self.layers)))

    @property
    def size(self) -> int:
        return sum(b.size for b in self.blobs)

    def member(self, blob: Blob) -> str:
        """The name go-containerregistry's tarball.Write gives a blob's member."""
        if blob == self.config:
            return blob.digest
        return f"{blob.digest.split(':', 1)[1]}.tar.gz"

    def manifest_json(self) -> bytes:
        """The tarball's own manifest.json."""
        entry = {
            "Config": self.member(self.config),
            "RepoTags": [],
            "Layers": [self.member(b) for b in self.layers],
        }
        return json.dumps([entry], separators=(",", ":")).encode()


class Uncacheable(ValueError):
    """Why an image is not kept in the base-image cache."""


def _blob(value: object, what: str) -> Blob:
    if not isinstance(value, dict):
        raise Uncacheable(f"its manifest has no {what} descriptor")
    digest, size = value.get("digest"), value.get("size")
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise Uncacheable(f"its {what} is not named by a sha256 digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise Uncacheable(f"its {what} has no size")
    return Blob(digest, size)


def image_parts(manifest: bytes) -> ImageParts:
    """The parts of the image an image manifest (OCI or Docker v2) describes; Uncacheable for
    anything else, and for layers kaniko's cache cannot hold as they are (not gzip tarballs:
    zstd, plain, or foreign layers fetched from URLs)."""
    try:
        data = json.loads(manifest)
    except ValueError as e:
        raise Uncacheable("its manifest is not JSON") from e
    if not isinstance(data, dict) or data.get("schemaVersion") != 2:
        raise Uncacheable("its manifest is not an image manifest (schema 2)")
    config = _blob(data.get("config"), "config")
    layers = data.get("layers")
    if not isinstance(layers, list):
        raise Uncacheable("its manifest lists no layers")
    found = []
    for layer in layers:
        blob = _blob(layer, "layer")
        media = layer.get("mediaType")
        if media not in _GZIP_LAYERS or layer.get("urls"):
            raise Uncacheable(f"layer {blob.digest} is {media}, not a gzip tarball of its own")
        found.append(blob)
    return ImageParts(config, tuple(found))


class TarballWriter:
    """Writes a `docker save`-style tarball member by member into a file, as kaniko's
    warmer does (tarball.Write): each member's bytes come from `fill`, which is given the
    file positioned after the member's header and must write exactly `size` bytes."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out

    def add(self, name: str, size: int, fill: Callable[[BinaryIO], None]) -> None:
        import tarfile

        info = tarfile.TarInfo(name)
        info.size = size
        info.mode = 0o644
        self.out.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict"))
        start = self.out.tell()
        fill(self.out)
        if self.out.tell() - start != size:
            raise OSError(f"{name}: {self.out.tell() - start} bytes written, not {size}")
        self.out.write(b"\0" * (-size % _BLOCK))

    def finish(self, parts: ImageParts) -> None:
        data = parts.manifest_json()

        def fill(out: BinaryIO) -> None:
            out.write(data)

        self.add(TARBALL_MANIFEST, len(data), fill)
        self.out.write(b"\0" * (2 * _BLOCK))


def check_tarball(stream: BinaryIO, parts: ImageParts) -> str | None:
    """Why the tarball in `stream` is not exactly the image `parts` describes, or None: only
    regular members, each blob's with the digest and size it is named for, and a
    manifest.json listing the config and the layers in order."""
    import hashlib
    import tarfile

    expected = {parts.member(b): b for b in parts.blobs}
    seen: set[str] = set()
    listed: object = None
    try:
        with tarfile.open(fileobj=stream, mode="r:") as tar:
            for info in tar:
                if not info.isreg() or info.name in seen:
                    return f"{info.name} is not one regular member"
                seen.add(info.name)
                member = tar.extractfile(info)
                if member is None:
                    return f"{info.name} cannot be read"
                if info.name == TARBALL_MANIFEST:
                    if info.size > _SMALL:
                        return f"{TARBALL_MANIFEST} is too large"
                    listed = json.loads(member.read())
                    continue
                blob = expected.get(info.name)
                if blob is None:
                    return f"{info.name} is not a part of the image"
                if info.size != blob.size:
                    return f"{info.name} holds {info.size} bytes, not {blob.size}"
                hashed = hashlib.sha256()
                while chunk := member.read(1 << 20):
                    hashed.update(chunk)
                if f"sha256:{hashed.hexdigest()}" != blob.digest:
                    return f"{info.name} does not have the digest it is named for"
    except (OSError, ValueError, tarfile.TarError) as e:
        return f"it is not a readable tarball ({e})"
    missing = set(expected) - seen
    if missing:
        return f"{sorted(missing)[0]} is missing"
    want = json.loads(parts.manifest_json())[0]
    if not isinstance(listed, list) or len(listed) != 1 or not isinstance(listed[0], dict):
        return f"{TARBALL_MANIFEST} does not describe one image"
    if listed[0].get("Config") != want["Config"] or listed[0].get("Layers") != want["Layers"]:
        return f"{TARBALL_MANIFEST} does not list the image's config and layers"
    return None
