"""Make kaniko honour `FROM --platform=...`: pin such a stage's base image to the manifest of
that platform (`repo@sha256:...`) in a copy of the Dockerfile inside the chroot.

kaniko pulls every base image for `--custom-platform`. For a stage whose platform differs from
the target (`FROM --platform=$BUILDPLATFORM golang AS build`), the base image's index is read
through the registry and the stage's image replaced by the digest of its entry for that
platform. Only the word naming the image changes, on its own line: line numbers, stage names,
the context and the user's Dockerfile stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import InputError
from ..oci.index import platform_entry
from ..oci.media import INDEXES
from ..oci.platform import Platform
from ..registry.client import RegistryClient, RegistryRequestError
from ..sandbox.layout import KANIKO_DIR, ChrootLayout, host_path
from ..spec.references import parse_reference
from ..staging.context import read_staged
from .stages import StagePlatform, pin_from_line

PINNED_DIR = KANIKO_DIR / "pinned"


@dataclass(frozen=True)
class Pin:
    stage: int
    line: int
    platform: Platform
    image: str
    pinned: str


def resolve_pins(
    plan: Sequence[StagePlatform], client: RegistryClient, warn: Callable[[str], None]
) -> list[Pin]:
    """The digest-pinned base of each stage that needs one."""
    pins: list[Pin] = []
    for item in plan:
        if not item.pin:
            continue
        stage = item.stage
        if stage.end_line != stage.line:
            warn(
                f"stage {stage.index}: FROM spans several lines; its base image is pulled for "
                "the target platform, not for its --platform"
            )
            continue
        try:
            ref = parse_reference("file", stage.image)
        except InputError:
            warn(f"stage {stage.index}: cannot read the image '{stage.image}' to pin it")
            continue
        reference = ref.digest or ref.tag or "latest"
        try:
            found = client.pull_manifest(ref.registry, ref.repository, reference)
        except RegistryRequestError as e:
            raise InputError(
                "file",
                f"stage {stage.index} (line {stage.line}) needs {stage.image} for "
                f"{item.platform}: {e}",
            ) from e
        if found.media_type not in INDEXES:
            continue  # one manifest: kaniko uses it whatever the target platform is
        chosen = platform_entry(found.json(), item.platform)
        if chosen is None:
            raise InputError(
                "file",
                f"stage {stage.index} (line {stage.line}) runs on {item.platform}, but "
                f"{stage.image} has no image for that platform",
            )
        pins.append(
            Pin(stage.index, stage.line, item.platform, stage.image, f"{ref.name}@{chosen}")
        )
    return pins


def write_pinned(root: str, layout: ChrootLayout, pins: Sequence[Pin]) -> ChrootLayout:
    """A copy of the chroot's Dockerfile with the pins applied, next to a copy of the
    `<Dockerfile>.dockerignore` kaniko would have read beside the original; the returned
    layout points the executor at it.

    Both are read from the staged chroot, not from the workspace: the rules kaniko applies
    stay those staging chose the context by, and nothing outside the chroot (a committed
    link to a runner file, say) ever lands where RUN steps can read it.
    """
    if not pins:
        return layout
    text = read_staged(root, layout.dockerfile)
    if text is None:
        raise InputError("file", f"{layout.dockerfile} is not a regular file in the chroot")
    lines = text.decode("utf-8").split("\n")
    for pin in pins:
        changed = pin_from_line(lines[pin.line - 1], pin.image, pin.pinned)
        if changed is None:
            raise InputError(
                "file", f"line {pin.line}: cannot pin the base image of stage {pin.stage}"
            )
        lines[pin.line - 1] = changed
    dockerfile = PINNED_DIR / layout.dockerfile.name
    target = Path(host_path(root, dockerfile))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines), encoding="utf-8")
    ignore_name = layout.dockerfile.name + ".dockerignore"
    ignore = read_staged(root, layout.dockerfile.with_name(ignore_name))
    if ignore is not None:
        target.with_name(ignore_name).write_bytes(ignore)
    return replace(layout, dockerfile=dockerfile)
