"""The image files a build writes for the user: `tar-path` (a `docker save` tarball),
`oci-layout-path` (an OCI layout directory) and `outputs: type=oci,dest=FILE` (a layout
tarball), for one platform from the build's chroot and for several from their merged layout.

Everything taken from the chroot goes through collect.py (no links followed, regular files
only). An OCI layout is first collected into a scratch directory of the action's: the layout
directory and the layout tarball are both made from that copy, so one path serves one and
several platforms alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..oci import layout as oci_layout
from ..oci import tarball
from ..sandbox.layout import ChrootLayout
from ..spec.build_spec import BuildSpec
from ..spec.paths import output_base
from .collect import collect_file, collect_tree


@dataclass(frozen=True)
class Exported:
    """The files written, and the image ID they give (the config digest)."""

    tar_path: str | None = None
    oci_layout_path: str | None = None
    oci_tar_path: str | None = None
    image_id: str | None = None


def wants_layout(spec: BuildSpec) -> bool:
    """Whether the build must write an OCI layout (for either layout output)."""
    return spec.oci_layout_path is not None or spec.oci_tar_path is not None


def _base(spec: BuildSpec, path: Path) -> Path:
    return output_base(path, spec.paths.workspace, spec.runner_temp)


def export_build(spec: BuildSpec, root: Path, layout: ChrootLayout, scratch: Path) -> Exported:
    """The outputs of a one-platform build, from what kaniko wrote in the chroot at `root`;
    `scratch` is a directory of the action's outside the chroot."""
    tar_path: str | None = None
    image_id: str | None = None
    if spec.tar_path is not None:
        collect_file(root, layout.tar_path, spec.tar_path, _base(spec, spec.tar_path))
        tar_path = str(spec.tar_path)
        image_id = tarball.image_id(spec.tar_path)
    exported = Exported()
    if wants_layout(spec):
        directory = scratch / "oci"
        collect_tree(root, layout.oci_layout, directory, scratch)
        exported = export_layout(spec, directory, scratch)
    return Exported(
        tar_path=tar_path,
        oci_layout_path=exported.oci_layout_path,
        oci_tar_path=exported.oci_tar_path,
        image_id=image_id or exported.image_id,
    )


def export_layout(spec: BuildSpec, directory: Path, scratch: Path) -> Exported:
    """The layout outputs from `directory`, a layout the action holds inside `scratch`
    (collected out of a chroot, or merged from several platforms)."""
    image_id = oci_layout.image_id(directory)
    oci_tar_path: str | None = None
    if spec.oci_tar_path is not None:
        packed = scratch / "oci.tar"
        oci_layout.write_tarball(directory, packed)
        inside = PurePosixPath("/", packed.relative_to(scratch).as_posix())
        collect_file(scratch, inside, spec.oci_tar_path, _base(spec, spec.oci_tar_path))
        oci_tar_path = str(spec.oci_tar_path)
    oci_layout_path: str | None = None
    if spec.oci_layout_path is not None:
        inside = PurePosixPath("/", directory.relative_to(scratch).as_posix())
        collect_tree(scratch, inside, spec.oci_layout_path, _base(spec, spec.oci_layout_path))
        oci_layout_path = str(spec.oci_layout_path)
    return Exported(oci_layout_path=oci_layout_path, oci_tar_path=oci_tar_path, image_id=image_id)
