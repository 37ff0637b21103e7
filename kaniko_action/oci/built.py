"""The image a build exported or pushed, as build-push-action's `digest`, `imageid` and
`metadata` outputs describe it (buildx's `containerimage.*` keys). Pure.

Each fact comes from what kaniko or the registry said, never from a guess: the pushed
manifest read back from the registry, the OCI layout kaniko wrote, kaniko's digest file (the
manifest digest, written whether or not it pushes) and the config named in its tarball.
"""

from __future__ import annotations

from dataclasses import dataclass

from .layout import Descriptor


@dataclass(frozen=True)
class BuiltImage:
    """An image manifest (or, for several platforms, the image index over them): its digest,
    its media type and size when known, and the digest of the image configuration (None for
    an index, and when nothing told it)."""

    digest: str
    media_type: str | None = None
    size: int | None = None
    config_digest: str | None = None

    @property
    def described(self) -> bool:
        """Whether the manifest's whole descriptor (media type, digest, size) is known."""
        return bool(self.media_type) and self.size is not None


def built_image(
    pushed: BuiltImage | None,
    digest_file: str | None,
    layout_manifest: Descriptor | None,
    config_digest: str | None,
) -> BuiltImage | None:
    """The one-platform image of a build, from the best of what it left: the pushed manifest
    read back from the registry, the manifest of the OCI layout kaniko wrote, kaniko's digest
    file; `config_digest` is the configuration named in the layout or tarball. All of them
    come from the one image kaniko built, so a config digest the registry did not tell is
    the files' one."""
    if pushed is not None:
        if pushed.config_digest is None and config_digest is not None:
            return BuiltImage(pushed.digest, pushed.media_type, pushed.size, config_digest)
        return pushed
    if layout_manifest is not None:
        return BuiltImage(
            layout_manifest.digest,
            layout_manifest.media_type or None,
            layout_manifest.size,
            config_digest,
        )
    if digest_file is not None:
        return BuiltImage(digest_file, config_digest=config_digest)
    return None
