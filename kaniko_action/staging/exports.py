"""The image files a build writes for the user: `tar-path` (a `docker save` tarball),
`oci-layout-path` (an OCI layout directory) and `outputs: type=oci,dest=FILE` (a layout
tarball), for one platform from the build's chroot and for several from their merged layout;
and the image's filesystem, `outputs: type=local,dest=DIR` (a directory) and
`type=tar,dest=FILE` (one tarball), from each platform's layout.

Everything taken from the chroot goes through collect.py (no links followed, regular files
only). An OCI layout is first collected into a scratch directory of the action's: the layout
directory, the layout tarball and the filesystem outputs are all made from that copy, so one
path serves one and several platforms alike. The filesystem is made by applying the image's
layers, their digests checked, with rootfs.py: for type=local into a hidden directory beside
DIR (0700 until complete, every entry the output owner's as it is made, so that even a
run killed midway leaves nothing the runner cannot delete), then renamed to DIR; for
type=tar into the scratch directory, keeping the image's owners, packed and collected. With
several platforms each gets a sub-directory named after it (`linux_amd64/`), as BuildKit
does.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import BuildFailed, SandboxError
from ..oci import layout as oci_layout
from ..oci import tarball
from ..oci.layout import LayoutError, LayoutImage
from ..sandbox.layout import ChrootLayout
from ..spec.build_spec import BuildSpec
from ..spec.paths import output_base
from ..utils.fs import DIR_FLAGS, remove_at, remove_tree
from .collect import Owner, collect_file, collect_tree, open_parent, owner_of, temp_name
from .rootfs import Applied, LayerApplier, pack_tree

# Where a platform's filesystem goes in a multi-platform type=local or type=tar output,
# and the image to take it from (no sub-directory for a one-platform build).
PlatformTree = tuple["str | None", LayoutImage]
Warn = Callable[[str], None]


@dataclass(frozen=True)
class Exported:
    """The files written, the image ID they give (the config digest) and the descriptor of
    the manifest (or index) an OCI output holds."""

    tar_path: str | None = None
    oci_layout_path: str | None = None
    oci_tar_path: str | None = None
    image_id: str | None = None
    local_dir: str | None = None
    rootfs_tar_path: str | None = None
    manifest: oci_layout.Descriptor | None = None


def _place(spec: BuildSpec, path: Path) -> tuple[Path, Owner]:
    """Where the walk to an output starts, and who gets it and the directories made for it:
    the workspace or RUNNER_TEMP it is in, and their owner; elsewhere /, and the job's user
    (for a job run as root, the workspace's owner)."""
    base = output_base(path, spec.paths.workspace, spec.runner_temp)
    if base != Path("/"):
        return base, owner_of(base)
    if spec.job_user is not None:
        return base, spec.job_user.owner
    return base, owner_of(spec.paths.workspace)


def export_build(
    spec: BuildSpec, root: Path, layout: ChrootLayout, scratch: Path, warn: Warn
) -> Exported:
    """The outputs of a one-platform build, from what kaniko wrote in the chroot at `root`;
    `scratch` is a directory of the action's outside the chroot; `warn` tells what the
    filesystem outputs left out."""
    tar_path: str | None = None
    image_id: str | None = None
    if spec.tar_path is not None:
        collect_file(root, layout.tar_path, spec.tar_path, *_place(spec, spec.tar_path))
        tar_path = str(spec.tar_path)
        image_id = tarball.image_id(spec.tar_path)
    exported = trees = Exported()
    if spec.writes_layout:
        directory = scratch / "oci"
        collect_tree(root, layout.oci_layout, directory, scratch)
        if spec.local_dir is not None or spec.rootfs_tar_path is not None:
            try:
                image = oci_layout.read_image(directory)
            except LayoutError as e:
                raise BuildFailed(str(e)) from e
            trees = export_filesystem(spec, [(None, image)], scratch, warn)
        # Last: an OCI layout directory is moved out of `scratch`, not copied.
        exported = export_layout(spec, directory, scratch)
    return Exported(
        tar_path=tar_path,
        oci_layout_path=exported.oci_layout_path,
        oci_tar_path=exported.oci_tar_path,
        image_id=image_id or exported.image_id,
        local_dir=trees.local_dir,
        rootfs_tar_path=trees.rootfs_tar_path,
        manifest=exported.manifest,
    )


def export_layout(spec: BuildSpec, directory: Path, scratch: Path) -> Exported:
    """The layout outputs from `directory`, a layout the action holds inside `scratch`
    (collected out of a chroot, or merged from several platforms); the image ID when there
    is one."""
    if spec.oci_tar_path is None and spec.oci_layout_path is None:
        return Exported()
    image_id = oci_layout.image_id(directory)
    manifest = oci_layout.top_descriptor(directory)
    oci_tar_path: str | None = None
    if spec.oci_tar_path is not None:
        packed = scratch / "oci.tar"
        oci_layout.write_tarball(directory, packed)
        inside = PurePosixPath("/", packed.relative_to(scratch).as_posix())
        collect_file(scratch, inside, spec.oci_tar_path, *_place(spec, spec.oci_tar_path))
        oci_tar_path = str(spec.oci_tar_path)
    oci_layout_path: str | None = None
    if spec.oci_layout_path is not None:
        inside = PurePosixPath("/", directory.relative_to(scratch).as_posix())
        collect_tree(scratch, inside, spec.oci_layout_path, *_place(spec, spec.oci_layout_path))
        oci_layout_path = str(spec.oci_layout_path)
    return Exported(
        oci_layout_path=oci_layout_path,
        oci_tar_path=oci_tar_path,
        image_id=image_id,
        manifest=manifest,
    )


def platform_directory(platform: str) -> str:
    """A platform's sub-directory in a multi-platform filesystem output, as BuildKit names
    it: `linux/arm/v7` -> `linux_arm_v7`."""
    return platform.replace("/", "_")


def export_filesystem(
    spec: BuildSpec, trees: Sequence[PlatformTree], scratch: Path, warn: Warn
) -> Exported:
    """The type=local and type=tar outputs from `trees`, images of layouts the action holds
    (their blobs in `scratch` or below); `warn` is told, once, what was left out."""
    found: list[str] = []
    local_dir: str | None = None
    rootfs_tar: str | None = None
    if spec.local_dir is not None:
        found += _write_local(spec, spec.local_dir, trees)
        local_dir = str(spec.local_dir)
    if spec.rootfs_tar_path is not None:
        found += _write_rootfs_tar(spec, spec.rootfs_tar_path, trees, scratch)
        rootfs_tar = str(spec.rootfs_tar_path)
    for message in dict.fromkeys(found):
        warn(f"the image's filesystem output: {message}")
    return Exported(local_dir=local_dir, rootfs_tar_path=rootfs_tar)


def _apply(
    top: int, trees: Sequence[PlatformTree], owner: tuple[int, int] | None, local: bool
) -> list[str]:
    """Every tree's layers onto the open directory `top` (or a sub-directory of it, made
    0755); the warnings of what was left out."""
    import tarfile  # loaded when used: it costs milliseconds
    import zlib

    devices = refused = 0
    for sub, image in trees:
        fd = os.dup(top)
        try:
            if sub is not None:
                os.mkdir(sub, 0o700, dir_fd=top)
                _give(top, sub, owner)
                os.close(fd)
                fd = os.open(sub, DIR_FLAGS, dir_fd=top)
            applier = LayerApplier(fd, owner, writable_dirs=local)
            for layer in image.layers:
                try:
                    with oci_layout.open_layer(image, layer) as blob:
                        applier.apply(blob)
                except LayoutError as e:
                    raise BuildFailed(f"the image's filesystem cannot be written: {e}") from e
                except (tarfile.TarError, EOFError, zlib.error) as e:
                    raise BuildFailed(
                        f"the image's filesystem cannot be written: layer {layer.digest} is "
                        f"not a readable tarball ({e})"
                    ) from e
            applied = applier.finish()
            if sub is not None:
                os.fchmod(fd, 0o755)
        finally:
            os.close(fd)
        devices += applied.devices
        refused += applied.refused
    return Applied(devices=devices, refused=refused).warnings()


def _give(parent: int, name: str, owner: tuple[int, int] | None) -> None:
    """A directory root just made goes to `owner` at once (None: stays root's)."""
    if owner is not None and os.geteuid() == 0:
        os.chown(name, *owner, dir_fd=parent, follow_symlinks=False)


def _write_local(spec: BuildSpec, dest: Path, trees: Sequence[PlatformTree]) -> list[str]:
    """Apply the trees into a hidden directory beside `dest`, then rename it to `dest`
    (which may only be missing or an empty directory)."""
    base, owner = _place(spec, dest)
    parent = open_parent(dest, base, owner)
    try:
        hidden = temp_name(dest.name)
        os.mkdir(hidden, 0o700, dir_fd=parent)
        _give(parent, hidden, owner)
        try:
            top = os.open(hidden, DIR_FLAGS, dir_fd=parent)
            try:
                warnings = _apply(top, trees, owner, local=True)
                os.fchmod(top, 0o755)
            finally:
                os.close(top)
            try:
                # Replaces an empty directory, nothing else (a file, a link, a full directory).
                os.rename(hidden, dest.name, src_dir_fd=parent, dst_dir_fd=parent)
            except OSError as e:
                if e.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                    raise SandboxError(
                        f"refusing to replace {dest}: it is no longer missing or an empty directory"
                    ) from e
                raise
        except BaseException:
            with suppress(OSError):  # the first error is the one to tell
                remove_at(parent, hidden)
            raise
    finally:
        os.close(parent)
    return warnings


def _write_rootfs_tar(
    spec: BuildSpec, dest: Path, trees: Sequence[PlatformTree], scratch: Path
) -> list[str]:
    """Apply the trees in `scratch` with the image's owners, pack them, collect the tarball."""
    tree = scratch / "rootfs"
    packed = scratch / "rootfs.tar"
    os.mkdir(tree, 0o700)
    try:
        top = os.open(tree, DIR_FLAGS)
        try:
            warnings = _apply(top, trees, None, local=False)
        finally:
            os.close(top)
        pack_tree(tree, packed)
    finally:
        remove_tree(tree)
    inside = PurePosixPath("/", packed.relative_to(scratch).as_posix())
    collect_file(scratch, inside, dest, *_place(spec, dest))
    return warnings
