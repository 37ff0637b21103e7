"""Copying the build context and Dockerfile into the chroot."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path, PurePosixPath

from ..sandbox.layout import ChrootLayout, host_path
from ..spec.build_spec import BuildSpec, read_certificate
from ..spec.paths import BuildPaths
from ..utils.filecopy import copy_tree
from ..utils.fs import READ_FLAGS, write_private
from .context import ContextReport, place_context


def stage_context(root: str, paths: BuildPaths, layout: ChrootLayout) -> ContextReport:
    """Place the Dockerfile where argv says, then at the layout's context dir what kaniko
    reads of the context (its choice of ignore file depends on the Dockerfile's place)."""
    if not paths.dockerfile_in_context:
        dockerfile_dest = Path(host_path(root, layout.dockerfile))
        dockerfile_dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(paths.dockerfile, dockerfile_dest)
        # kaniko reads <Dockerfile>.dockerignore before the context's .dockerignore.
        ignore = paths.dockerfile.with_name(paths.dockerfile.name + ".dockerignore")
        copy_regular_nofollow(ignore, dockerfile_dest.with_name(ignore.name))
    return place_context(root, paths, layout)


def copy_regular_nofollow(source: Path, dest: Path) -> bool:
    """Copy `source` if it is a regular file itself, not a link to one; False if it is not.

    The workspace holds whatever a pull request committed: a `<Dockerfile>.dockerignore`
    that links to a runner file (a 0600 key, say) must not be read by root.
    """
    try:
        fd = os.open(source, READ_FLAGS)
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
    """Copy the registry CA and client certificates to where argv points kaniko at them,
    read without following a symlink (the workspace may have changed since the spec)."""
    for index, (registry, ca) in enumerate(spec.registry_certificates):
        data = read_certificate("registry-certificates", registry, ca)
        write_private(Path(host_path(root, layout.registry_ca(index))), data)
    for index, (registry, cert, key) in enumerate(spec.registry_client_certs):
        cert_in, key_in = layout.client_cert(index)
        for source, inside in ((cert, cert_in), (key, key_in)):
            data = read_certificate("registry-client-certs", registry, source)
            write_private(Path(host_path(root, inside)), data)


def stage_files_in_place(root: str, files: tuple[Path, ...]) -> None:
    """Copy runner files to the same paths inside the chroot (credential helpers' tokens)."""
    for path in files:
        _copy_private(path, Path(host_path(root, PurePosixPath(path))))


def stage_cache_dir(root: str, source: Path, layout: ChrootLayout) -> None:
    """Copy the runner's base-image cache (kaniko warmer output) into the chroot: reflinks
    where the filesystem has them, never hard links, through which a RUN step appending to
    a cached layer would change the runner's cache."""
    copy_tree(source, host_path(root, layout.cache_dir))
