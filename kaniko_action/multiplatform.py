"""Multi-platform images: `platforms: linux/amd64,linux/arm64`.

Each platform is built in a fresh sandbox of its own (`--custom-platform`, kaniko's own layer
cache per platform) and written by kaniko as an OCI layout inside the chroot. The layout is
collected out of the chroot without following links (RUN steps may have planted some) into a
scratch directory, and pushed from there by digest only (blobs, then the manifest under its
digest) to every destination repository; no tag ever points at a single-platform image. Once every platform is built, one
image index listing them is pushed under each destination tag. An OCI output holds the same
index and images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .build_hooks import OnImage, RegistryAccess
from .cancellation import CancelState
from .collect import collect_file, collect_tree
from .errors import BuildFailed, InputError
from .image_index import PlatformImage, assemble_index, platform_metadata
from .layout import ChrootLayout
from .oci_layout import LayoutError, LayoutImage, merge_layouts, read_image, write_tarball
from .paths import output_base
from .platforms import Platform, parse_platform, predefined_args
from .records import replace
from .references import Reference, parse_reference
from .registry_client import RegistryClient, RegistryRequestError
from .report import BuildReport
from .runner import Runner
from .sandbox import Sandbox
from .scratch import scratch_dir
from .spec import BuildSpec

BuildOne = Callable[[BuildSpec, BuildReport, "OnImage | None"], None]


def with_platform(spec: BuildSpec, platform: Platform, host: Platform) -> BuildSpec:
    """`spec` for one platform, with BuildKit's platform build arguments (TARGETARCH, ...)
    unless the workflow gave them itself."""
    given = {name for name, _value in spec.build_args}
    added = tuple(
        (name, value)
        for name, value in predefined_args(host, platform).items()
        if name not in given
    )
    return replace(spec, platform=str(platform), platforms=(), build_args=added + spec.build_args)


def repositories(references: Sequence[Reference]) -> list[tuple[str, str]]:
    """Each destination repository once, in order."""
    return list(dict.fromkeys((r.registry, r.repository) for r in references))


def _opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: open(path, "rb")


def push_by_digest(
    client: RegistryClient,
    image: LayoutImage,
    targets: Sequence[tuple[str, str]],
    mount_hints: Sequence[tuple[str, str]] = (),
) -> None:
    """Blobs, then the manifest under its own digest, in every target repository. A blob
    another repository of the same registry already holds is mounted, not uploaded."""
    done: list[tuple[str, str]] = []
    for registry, repository in targets:
        sources = [r for g, r in [*done, *mount_hints] if g == registry and r != repository]
        for blob in (image.config, *image.layers):
            client.upload_blob(
                registry,
                repository,
                blob.digest,
                blob.size,
                _opener(image.blob(blob.digest)),
                mount_from=sources[:1],
            )
        client.put_manifest(
            registry,
            repository,
            image.manifest.digest,
            image.manifest_body,
            image.manifest.media_type,
        )
        done.append((registry, repository))


class PlatformPush:
    """The after-build step of one platform: collect kaniko's OCI layout out of the chroot,
    push it by digest, and remember the platform image."""

    def __init__(
        self,
        spec: BuildSpec,
        platform: Platform,
        access: RegistryAccess,
        runner: Runner,
        scratch: Path,
        on_push: Callable[[], None],
    ) -> None:
        self.spec = spec
        self.platform = platform
        self.access = access
        self.runner = runner
        self.directory = scratch / str(platform).replace("/", "-")
        self.scratch = scratch
        self.on_push = on_push
        self.image: PlatformImage | None = None

    def __call__(self, sandbox: Sandbox, layout: ChrootLayout, report: BuildReport) -> None:
        collect_tree(sandbox.root, layout.oci_layout, self.directory, self.scratch)
        try:
            image = read_image(self.directory)
            config = image.config_json()
        except LayoutError as e:
            raise BuildFailed(f"{self.platform}: {e}") from e
        built = "/".join(
            str(config.get(k) or "") for k in ("os", "architecture", "variant") if config.get(k)
        )
        if config.get("architecture") and config.get("architecture") != self.platform.arch:
            self.runner.warning(
                f"the image built for {self.platform} says it is {built}: its base image has no "
                f"{self.platform} variant"
            )
        if self.spec.push:
            self.on_push()
            hints = []
            for base in report.base_images:
                try:
                    ref = parse_reference("file", base)
                except InputError:
                    continue
                hints.append((ref.registry, ref.repository))
            try:
                push_by_digest(self.access.client, image, repositories(self.spec.references), hints)
            except RegistryRequestError as e:
                raise BuildFailed(
                    f"pushing the {self.platform} image failed: {e}", pushing=True
                ) from e
        self.image = PlatformImage(
            self.platform,
            image.manifest.digest,
            image.manifest.size,
            image.manifest.media_type,
            image.config.digest,
        )


def _merge_report(report: BuildReport, part: BuildReport) -> None:
    report.kaniko_version = report.kaniko_version or part.kaniko_version
    report.base_images += [b for b in part.base_images if b not in report.base_images]
    report.cache_hits += part.cache_hits
    report.cache_misses += part.cache_misses


def build_platforms(
    spec: BuildSpec,
    host: Platform,
    build_one: BuildOne,
    access: RegistryAccess,
    runner: Runner,
    report: BuildReport,
    work_base: Path,
    cancel: CancelState,
    on_push: Callable[[], None] = lambda: None,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Build every platform, then push the index and write the OCI outputs."""
    targets = [parse_platform("platforms", p) for p in spec.platforms]
    want_layouts = spec.oci_layout_path is not None or spec.oci_tar_path is not None
    pushes: list[PlatformPush] = []
    with scratch_dir(work_base, cancel) as scratch:
        for target in targets:
            (announce or runner.echo)(f"Building for {target}")
            one = replace(
                with_platform(spec, target, host),
                push=False,
                tar_path=None,
                oci_tar_path=None,
                oci_layout_path=None,
            )
            part = BuildReport()
            hook = PlatformPush(spec, target, access, runner, scratch, on_push)
            build_one(one, part, hook if spec.push or want_layouts else None)
            _merge_report(report, part)
            pushes.append(hook)
        images = [p.image for p in pushes if p.image is not None]
        report.platforms = platform_metadata(images)
        if spec.push and images:
            body, media_type, digest = assemble_index(images)
            for ref in spec.references:
                try:
                    access.client.put_manifest(
                        ref.registry, ref.repository, ref.tag or "latest", body, media_type
                    )
                except RegistryRequestError as e:
                    raise BuildFailed(f"pushing the image index failed: {e}", pushing=True) from e
            first = spec.references[0]
            report.pushed = True
            report.digest = digest
            report.image = f"{first.name}@{digest}"
            report.index_media_type = media_type
        if want_layouts and images:
            _write_layouts(spec, [p.directory for p in pushes], images, scratch, report)
        if images:
            # build-push-action's imageid for a multi-platform build: the index digest.
            report.image_id = report.digest or report.image_id


def _write_layouts(
    spec: BuildSpec,
    layouts: Sequence[Path],
    images: Sequence[PlatformImage],
    scratch: Path,
    report: BuildReport,
) -> None:
    """The OCI outputs: one layout with every platform image and the index over them."""
    pairs = [(read_image(d), i) for d, i in zip(layouts, images)]
    first = spec.references[0] if spec.references else None
    merged = scratch / "merged"
    digest = merge_layouts(pairs, merged, first.tag if first else None)
    report.index_media_type = report.index_media_type or assemble_index(images)[1]
    report.digest = report.digest or digest
    workspace = spec.paths.workspace
    if spec.oci_tar_path is not None:
        write_tarball(merged, scratch / "image.tar")
        base = output_base(spec.oci_tar_path, workspace, spec.runner_temp)
        collect_file(scratch, PurePosixPath("/image.tar"), spec.oci_tar_path, base)
        report.oci_tar_path = str(spec.oci_tar_path)
    if spec.oci_layout_path is not None:
        base = output_base(spec.oci_layout_path, workspace, spec.runner_temp)
        collect_tree(scratch, PurePosixPath("/merged"), spec.oci_layout_path, base)
        report.oci_layout_path = str(spec.oci_layout_path)
