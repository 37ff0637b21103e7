"""Putting build secrets where the executor reads them.

Each secret becomes a file readable by root only inside kaniko's directory in the chroot
(excluded from every snapshot), and goes with the work directory when the build ends.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..sandbox.layout import ChrootLayout, host_path
from ..spec.secrets import BuildSecret
from ..utils.fs import write_private


def stage_secrets(
    root: str, layout: ChrootLayout, secrets: tuple[BuildSecret, ...], env: Mapping[str, str]
) -> None:
    """Write each secret to its source file (0600, in a 0700 directory) in the chroot."""
    if not secrets:
        return
    directory = Path(host_path(root, layout.secrets_dir))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    for index, secret in enumerate(secrets):
        write_private(Path(host_path(root, layout.secret_source(index))), secret.value(env))
