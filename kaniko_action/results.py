"""Reading what the executor reported through its digest files."""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildFailed

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class BuildResult:
    digest: str
    image_names: tuple[str, ...]

    @property
    def image(self) -> str:
        return self.image_names[0] if self.image_names else ""


def read_result(digest_file: Path, names_file: Path) -> BuildResult:
    try:
        digest = digest_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError as e:
        raise BuildFailed("kaniko finished but wrote no digest file") from e
    if not _DIGEST.match(digest):
        raise BuildFailed(f"kaniko wrote an unexpected digest: {digest!r}")
    try:
        names = tuple(
            line.strip()
            for line in names_file.read_text(encoding="utf-8").splitlines()
            if line.strip()
        )
    except FileNotFoundError:
        names = ()
    return BuildResult(digest=digest, image_names=names)


def image_id_from_oci_layout(layout: Path) -> str | None:
    """The config digest of the (single) image in an OCI image layout directory."""
    try:
        index = json.loads((layout / "index.json").read_text(encoding="utf-8"))
        manifest_digest = index["manifests"][0]["digest"]
        algorithm, hexdigest = manifest_digest.split(":", 1)
        manifest = json.loads(
            (layout / "blobs" / algorithm / hexdigest).read_text(encoding="utf-8")
        )
        digest = manifest["config"]["digest"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    return digest if isinstance(digest, str) and _DIGEST.match(digest) else None


def image_id_from_tarball(tar_path: Path) -> str | None:
    """The config digest recorded in a `docker save`-style tarball's manifest.json."""
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


def kaniko_version(output: str) -> str | None:
    """`Kaniko version :  v1.24.0` -> `v1.24.0`."""
    match = re.search(r"version\s*:\s*(\S+)", output, re.IGNORECASE)
    return match.group(1) if match else None
