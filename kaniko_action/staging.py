"""Copying the build context and Dockerfile into the chroot."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path, PurePosixPath

from .fsutil import write_private
from .layout import ChrootLayout, host_path
from .paths import BuildPaths
from .spec import BuildSpec


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
        copy_regular_nofollow(ignore, dockerfile_dest.with_name(ignore.name))


def copy_regular_nofollow(source: Path, dest: Path) -> bool:
    """Copy `source` if it is a regular file itself, not a link to one; False if it is not.

    The workspace holds whatever a pull request committed: a `<Dockerfile>.dockerignore`
    that links to a runner file (a 0600 key, say) must not be read by root.
    """
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        with open(dest, "xb") as out:
            shutil.copyfileobj(src, out)
    return True


def _copy_private(source: Path, dest: Path) -> None:
    write_private(dest, source.read_bytes())


def stage_certificates(root: str, spec: BuildSpec, layout: ChrootLayout) -> None:
    """Copy the registry CA and client certificates to where argv points kaniko at them."""
    for index, (_registry, ca) in enumerate(spec.registry_certificates):
        _copy_private(ca, Path(host_path(root, layout.registry_ca(index))))
    for index, (_registry, cert, key) in enumerate(spec.registry_client_certs):
        cert_in, key_in = layout.client_cert(index)
        _copy_private(cert, Path(host_path(root, cert_in)))
        _copy_private(key, Path(host_path(root, key_in)))


def stage_files_in_place(root: str, files: tuple[Path, ...]) -> None:
    """Copy runner files to the same paths inside the chroot (credential helpers' tokens)."""
    for path in files:
        _copy_private(path, Path(host_path(root, PurePosixPath(path))))


def _link_or_copy(src: str, dst: str) -> str:
    """Hard-link when on the same filesystem (free for a large cache), else copy."""
    if not stat.S_ISREG(os.lstat(src).st_mode):
        return dst
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def stage_cache_dir(root: str, source: Path, layout: ChrootLayout) -> None:
    """Make the runner's base-image cache (kaniko warmer output) visible in the chroot."""
    shutil.copytree(
        source, host_path(root, layout.cache_dir), symlinks=True, copy_function=_link_or_copy
    )
