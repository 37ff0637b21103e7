"""Copying the build context and Dockerfile into the chroot."""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from .context_staging import ContextReport, place_context
from .filecopy import copy_tree
from .fsutil import remove_tree, write_private
from .layout import ChrootLayout, host_path
from .paths import BuildPaths
from .spec import BuildSpec


def stage_context(root: str, paths: BuildPaths, layout: ChrootLayout) -> ContextReport:
    """Place the Dockerfile where argv says, then at the layout's context dir what kaniko
    reads of the context (its choice of ignore file depends on the Dockerfile's place)."""
    if not paths.dockerfile_in_context:
        dockerfile_dest = Path(host_path(root, layout.dockerfile))
        dockerfile_dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(paths.dockerfile, dockerfile_dest)
        # kaniko reads <Dockerfile>.dockerignore before the context's .dockerignore.
        ignore = paths.dockerfile.with_name(paths.dockerfile.name + ".dockerignore")
        if ignore.is_file():
            shutil.copy2(ignore, dockerfile_dest.with_name(ignore.name))
    return place_context(root, paths, layout)


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


def stage_cache_dir(root: str, source: Path, layout: ChrootLayout) -> None:
    """Copy the runner's base-image cache (kaniko warmer output) into the chroot: reflinks
    where the filesystem has them, never hard links, through which a RUN step appending to
    a cached layer would change the runner's cache."""
    copy_tree(source, host_path(root, layout.cache_dir))


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid, follow_symlinks=False)
    if path.is_dir() and not path.is_symlink():
        for dirpath, dirnames, filenames in os.walk(path):
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def collect_output(source: Path, dest: Path, owner: Path) -> None:
    """Move an output out of the chroot to `dest`, owned like the `owner` directory."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_tree(dest)
    shutil.move(str(source), str(dest))
    st = owner.stat()
    if os.geteuid() == 0:
        _chown_tree(dest, st.st_uid, st.st_gid)
