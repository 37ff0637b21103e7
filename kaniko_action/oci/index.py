"""A multi-platform image index from the platform images, and the entry of an index for one
platform. Pure.

The index's media type follows its entries, as buildx does: a Docker manifest list for Docker
schema 2 manifests (what kaniko writes), an OCI image index otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .media import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, sha256_digest
from .platform import Platform


@dataclass(frozen=True)
class PlatformImage:
    platform: Platform
    digest: str  # of the image manifest
    size: int
    media_type: str
    config_digest: str


def index_media_type(images: Sequence[PlatformImage]) -> str:
    if images and all(i.media_type == DOCKER_MANIFEST for i in images):
        return DOCKER_MANIFEST_LIST
    return OCI_INDEX


def assemble_index(images: Sequence[PlatformImage]) -> tuple[bytes, str, str]:
    """(index JSON, its media type, its digest) listing each platform image once, in order."""
    if not images:
        raise ValueError("an image index needs at least one image")
    platforms = [i.platform for i in images]
    if len(set(platforms)) != len(platforms):
        raise ValueError("an image index lists each platform once")
    media_type = index_media_type(images)
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            {
                "mediaType": image.media_type,
                "digest": image.digest,
                "size": image.size,
                "platform": image.platform.descriptor(),
            }
            for image in images
        ],
    }
    body = json.dumps(document, indent=2).encode("utf-8")
    return body, media_type, sha256_digest(body)


def platform_metadata(images: Sequence[PlatformImage]) -> list[dict[str, str]]:
    """The `metadata` output's per-platform entries."""
    return [
        {"platform": str(i.platform), "digest": i.digest, "imageid": i.config_digest}
        for i in images
    ]


def platform_entry(index: Mapping[str, object], platform: Platform) -> str | None:
    """The digest of the first manifest an image index lists for `platform`, or None."""
    entries = index.get("manifests")
    for entry in entries if isinstance(entries, list) else []:
        found = entry.get("platform") if isinstance(entry, dict) else None
        if isinstance(found, dict) and platform.matches(found):
            digest = entry.get("digest")
            return digest if isinstance(digest, str) else None
    return None
