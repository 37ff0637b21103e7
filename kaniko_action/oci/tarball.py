"""`docker save`-style image tarballs (what kaniko's `--tar-path` writes)."""

from __future__ import annotations

import json
import re
from pathlib import Path

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
