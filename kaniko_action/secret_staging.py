"""Putting build secrets where the executor reads them, and what to mask before anything prints.

Each secret becomes a file readable by root only inside kaniko's directory in the chroot
(excluded from every snapshot), and goes with the work directory when the build ends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath

from .build_secrets import BuildSecret, source_dir, source_path
from .fsutil import write_private
from .layout import host_path

# Larger secret files are still passed to the build, but not registered as log masks.
MASK_LIMIT_BYTES = 64 * 1024


def secret_bytes(secret: BuildSecret, env: Mapping[str, str]) -> bytes:
    if secret.kind == "value":
        return secret.source.encode("utf-8")
    if secret.kind == "env":
        return env.get(secret.source, "").encode("utf-8")
    return Path(secret.source).read_bytes()


def stage_secrets(
    root: str,
    kaniko_dir: PurePosixPath,
    secrets: tuple[BuildSecret, ...],
    env: Mapping[str, str],
) -> None:
    """Write each secret to its source file (0600, in a 0700 directory) in the chroot."""
    if not secrets:
        return
    directory = Path(host_path(root, source_dir(kaniko_dir)))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    for index, secret in enumerate(secrets):
        write_private(
            Path(host_path(root, source_path(kaniko_dir, index))), secret_bytes(secret, env)
        )


def texts_to_mask(secrets: tuple[BuildSecret, ...], env: Mapping[str, str]) -> Iterator[str]:
    """Every secret's text (files too, when they are text and not huge)."""
    for secret in secrets:
        if secret.kind == "file":
            try:
                if os.path.getsize(secret.source) > MASK_LIMIT_BYTES:
                    continue
                data = Path(secret.source).read_bytes()
            except OSError:
                continue
        else:
            data = secret_bytes(secret, env)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if text.strip():
            yield text
