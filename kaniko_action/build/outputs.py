"""The action's outputs: their definitions (action.yml is generated from them) and setting
them from a finished build's report, as build-push-action does."""

from __future__ import annotations

from dataclasses import dataclass

from ..spec.build_spec import BuildSpec
from ..workflow.commands import Workflow
from .report import BuildReport


@dataclass(frozen=True)
class OutputDef:
    name: str
    description: str


OUTPUTS: tuple[OutputDef, ...] = (
    OutputDef(
        "digest",
        "Digest (`sha256:...`) of the image manifest (of the image index for several "
        "platforms), as build-push-action sets it: when the image was pushed or written as a "
        "docker or OCI image (`tar-path`, `oci-layout-path`, `outputs` type=docker or "
        "type=oci); empty for type=local, type=tar, type=cacheonly and builds only built.",
    ),
    OutputDef("image", "First destination's repository with the digest (`repo@sha256:...`)."),
    OutputDef("tags", "The destinations pushed, one per line (empty when nothing was pushed)."),
    OutputDef(
        "imageid",
        "Image ID: digest of the image configuration; the index digest for several "
        "platforms. Set with `digest`, except when `outputs` has type=local or type=tar (as "
        "build-push-action).",
    ),
    OutputDef(
        "metadata",
        "JSON: build-push-action's `containerimage.digest`, `containerimage.config.digest`, "
        "`containerimage.descriptor` and `image.name` (each when buildx has it), and "
        "destinations, each platform's manifest digest, kaniko version, cache use, duration.",
    ),
    OutputDef("tar-path", "Path of the image tarball, when `tar-path` was given."),
    OutputDef("oci-layout-path", "Path of the OCI layout, when `oci-layout-path` was given."),
)


def publish(spec: BuildSpec, report: BuildReport, workflow: Workflow) -> None:
    """Set the outputs of a successful build: `digest`, `imageid` and `metadata` when
    build-push-action sets them (report.assemble), `image` and `tags` after a push."""
    if report.digest:
        workflow.set_output("digest", report.digest)
    if report.pushed and report.digest:
        workflow.set_output("image", report.image or "")
        workflow.set_output("tags", "\n".join(spec.destinations))
    if report.image_id:
        workflow.set_output("imageid", report.image_id)
    if report.tar_path:
        workflow.set_output("tar-path", report.tar_path)
    if report.oci_layout_path:
        workflow.set_output("oci-layout-path", report.oci_layout_path)
    workflow.set_output("metadata", report.metadata())
