"""OCI image layouts on disk: reading the image kaniko wrote, opening its layers once their
digests are checked, merging per-platform layouts under one image index, and packing a layout
into a tarball (buildx's `type=oci,dest=FILE`).

The layouts read here are copies the action already collected out of the chroot (directories
and regular files only); their JSON is still treated as untrusted input."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .index import PlatformImage, assemble_index
from .media import OCI_INDEX, TAR_LAYERS

LAYOUT_VERSION = b'{"imageLayoutVersion":"1.0.0"}'


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int


@dataclass(frozen=True)
class LayoutImage:
    """The single image of a layout kaniko wrote."""

    directory: Path
    manifest: Descriptor
    manifest_body: bytes
    config: Descriptor
    layers: tuple[Descriptor, ...]

    def blob(self, digest: str) -> Path:
        algorithm, hexdigest = digest.split(":", 1)
        return self.directory / "blobs" / algorithm / hexdigest

    def config_json(self) -> dict[str, Any]:
        data = json.loads(self.blob(self.config.digest).read_bytes())
        return data if isinstance(data, dict) else {}


class LayoutError(ValueError):
    pass


_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def image_id(directory: Path) -> str | None:
    """The config digest of a layout's (first) image; None when the layout is unreadable."""
    try:
        digest = read_image(directory).config.digest
    except LayoutError:
        return None
    return digest if _DIGEST.match(digest) else None


def top_descriptor(directory: Path) -> Descriptor | None:
    """The descriptor of the first manifest (or index) a layout's index.json lists; None when
    the layout is unreadable or its digest is not a sha256 digest."""
    try:
        index = json.loads((directory / "index.json").read_bytes())
        descriptor = _descriptor(index["manifests"][0])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    return descriptor if _DIGEST.match(descriptor.digest) else None


def _descriptor(entry: Any) -> Descriptor:
    if not isinstance(entry, dict):
        raise LayoutError("descriptor is not an object")
    digest, size = entry.get("digest"), entry.get("size")
    if not isinstance(digest, str) or ":" not in digest or not isinstance(size, int):
        raise LayoutError("descriptor without digest or size")
    if "/" in digest or digest.startswith("."):
        raise LayoutError("descriptor digest is not a digest")
    return Descriptor(str(entry.get("mediaType") or ""), digest, size)


def read_image(directory: Path) -> LayoutImage:
    """The (first) image manifest of `directory`'s index.json."""
    try:
        index = json.loads((directory / "index.json").read_bytes())
        manifest = _descriptor(index["manifests"][0])
        algorithm, hexdigest = manifest.digest.split(":", 1)
        body = (directory / "blobs" / algorithm / hexdigest).read_bytes()
        document = json.loads(body)
        config = _descriptor(document["config"])
        layers = tuple(_descriptor(layer) for layer in document.get("layers") or [])
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        raise LayoutError(f"unreadable OCI layout {directory}: {e}") from e
    media_type = manifest.media_type or str(document.get("mediaType") or "")
    return LayoutImage(
        directory,
        Descriptor(media_type, manifest.digest, manifest.size),
        body,
        config,
        layers,
    )


def merge_layouts(
    images: Sequence[tuple[LayoutImage, PlatformImage]], dest: Path, ref_name: str | None
) -> str:
    """One layout holding every platform image and an image index of them, listed in
    index.json; returns the index digest. `dest` must not exist."""
    dest.mkdir(parents=True)
    blobs = dest / "blobs"
    for image, _platform in images:
        for digest in (
            image.manifest.digest,
            image.config.digest,
            *(x.digest for x in image.layers),
        ):
            algorithm, hexdigest = digest.split(":", 1)
            target = blobs / algorithm / hexdigest
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = image.blob(digest)
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)
    body, media_type, digest = assemble_index([p for _i, p in images])
    algorithm, hexdigest = digest.split(":", 1)
    (blobs / algorithm).mkdir(parents=True, exist_ok=True)
    (blobs / algorithm / hexdigest).write_bytes(body)
    entry: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": len(body)}
    if ref_name:
        entry["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX}
    index["manifests"] = [entry]
    (dest / "index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    (dest / "oci-layout").write_bytes(LAYOUT_VERSION)
    return digest


_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


def open_layer(image: LayoutImage, layer: Descriptor) -> BinaryIO:
    """A layer blob of `image`, open for reading from its start, once its size and sha256
    digest are checked on the same descriptor (read in chunks: memory stays flat); a
    LayoutError when it is not a tarball Python reads, or not what the manifest says."""
    import hashlib  # loaded when used: it costs milliseconds

    if layer.media_type and layer.media_type not in TAR_LAYERS:
        hint = (
            " (zstd cannot be unpacked here: drop --compression=zstd)"
            if "zstd" in (layer.media_type)
            else ""
        )
        raise LayoutError(f"layer {layer.digest} is {layer.media_type}, not a tarball{hint}")
    if not _DIGEST.match(layer.digest):
        raise LayoutError(f"layer digest '{layer.digest}' is not a sha256 digest")
    fd = os.open(image.blob(layer.digest), _READ_FLAGS)
    blob = os.fdopen(fd, "rb")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise LayoutError(f"layer {layer.digest} is not a regular file")
        digest = hashlib.sha256()
        size = 0
        while chunk := blob.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
        if size != layer.size or "sha256:" + digest.hexdigest() != layer.digest:
            raise LayoutError(f"layer {layer.digest} does not match its digest or size")
        blob.seek(0)
    except BaseException:
        blob.close()
        raise
    return blob


def write_tarball(directory: Path, dest: Path) -> None:
    """Pack a layout directory (dirs and regular files only, as collected) into a tar file
    with the layout's files at the top level; `dest` is in a directory of the action's."""
    import tarfile  # loaded when used: it costs milliseconds

    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("oci-layout", "index.json"):
            if (directory / name).is_file():
                tar.add(directory / name, arcname=name)
        if (directory / "blobs").is_dir():
            for root, dirs, files in os.walk(directory / "blobs"):
                dirs.sort()
                rel = Path(root).relative_to(directory)
                tar.add(root, arcname=str(rel), recursive=False)
                for name in sorted(files):
                    tar.add(Path(root) / name, arcname=str(rel / name))
