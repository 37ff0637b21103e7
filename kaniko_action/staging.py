"""Copying the build context and Dockerfile into the chroot."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from .layout import ChrootLayout, host_path
from .paths import BuildPaths


def _copy_regular(src: str, dst: str) -> str:
    """copytree's copy function: regular files only; sockets, fifos and devices are skipped."""
    if stat.S_ISREG(os.lstat(src).st_mode):
        shutil.copy2(src, dst)
    return dst


def stage_context(root: str, paths: BuildPaths, layout: ChrootLayout) -> None:
    """Place the context at the layout's context dir and the Dockerfile where argv says."""
    context_dest = host_path(root, layout.context_dir)
    shutil.copytree(paths.context, context_dest, symlinks=True, copy_function=_copy_regular)
    if not paths.dockerfile_in_context:
        dockerfile_dest = Path(host_path(root, layout.dockerfile))
        dockerfile_dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(paths.dockerfile, dockerfile_dest)
        # kaniko reads <Dockerfile>.dockerignore before the context's .dockerignore.
        ignore = paths.dockerfile.with_name(paths.dockerfile.name + ".dockerignore")
        if ignore.is_file():
            shutil.copy2(ignore, dockerfile_dest.with_name(ignore.name))
