"""Multi-platform images: `platforms: linux/amd64,linux/arm64`.

Each platform is built in a fresh sandbox of its own (`--custom-platform`, kaniko's own layer
cache per platform) and written by kaniko as an OCI layout inside the chroot. The layout is
collected out of the chroot without following links (RUN steps may have planted some) into a
scratch directory, and pushed from there by digest only (blobs, then the manifest under its
digest) to every destination repository; no tag ever points at a single-platform image. Once
every platform is built, one image index listing them is pushed under each destination tag.
An OCI output holds the same index and images.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from ..errors import BuildFailed, InputError
from ..executor.log import LogFacts
from ..executor.results import PushResult
from ..oci.built import BuiltImage
from ..oci.index import PlatformImage, assemble_index
from ..oci.layout import LayoutError, LayoutImage, merge_layouts, read_image
from ..oci.platform import Platform, parse_platform
from ..platforms.stages import predefined_args
from ..registry.access import RegistryAccess
from ..registry.client import RegistryClient, RegistryRequestError
from ..sandbox.chroot import Sandbox
from ..sandbox.layout import ChrootLayout
from ..sandbox.scratch import scratch_dir
from ..spec.build_spec import BuildSpec
from ..spec.references import Reference, parse_reference
from ..staging.collect import collect_tree, owner_of
from ..staging.exports import Exported, export_filesystem, export_layout, platform_directory
from ..staging.layer_cache import pending_for, promote
from ..utils.fs import remove_tree
from ..workflow.commands import Workflow
from .context import RunContext
from .single import BuildOutcome, OnImage

BuildOne = Callable[[BuildSpec, "OnImage | None"], BuildOutcome]


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


def _mount_hints(log: LogFacts) -> list[tuple[str, str]]:
    """The base images' repositories: blobs already there are mounted, not uploaded."""
    hints = []
    for base in log.base_images:
        try:
            ref = parse_reference("file", base)
        except InputError:
            continue
        hints.append((ref.registry, ref.repository))
    return hints


def platform_step(
    spec: BuildSpec,
    platform: Platform,
    access: RegistryAccess,
    workflow: Workflow,
    directory: Path,
    scratch: Path,
    on_push: Callable[[], None],
) -> OnImage:
    """The after-build step of one platform: collect kaniko's OCI layout out of the chroot
    into `directory`, push it by digest, and return the platform image."""

    def step(sandbox: Sandbox, layout: ChrootLayout, log: LogFacts) -> PlatformImage:
        collect_tree(sandbox.root, layout.oci_layout, directory, scratch)
        try:
            image = read_image(directory)
            config = image.config_json()
        except LayoutError as e:
            raise BuildFailed(f"{platform}: {e}") from e
        built = "/".join(
            str(config.get(k) or "") for k in ("os", "architecture", "variant") if config.get(k)
        )
        if config.get("architecture") and config.get("architecture") != platform.arch:
            workflow.warning(
                f"the image built for {platform} says it is {built}: its base image has no "
                f"{platform} variant"
            )
        if spec.push:
            on_push()
            targets = repositories(spec.references)
            try:
                push_by_digest(access.client, image, targets, _mount_hints(log))
            except RegistryRequestError as e:
                raise BuildFailed(f"pushing the {platform} image failed: {e}", pushing=True) from e
        return PlatformImage(
            platform,
            image.manifest.digest,
            image.manifest.size,
            image.manifest.media_type,
            image.config.digest,
        )

    return step


def _merged_log(parts: Sequence[BuildOutcome]) -> LogFacts:
    bases = list(dict.fromkeys(b for p in parts for b in p.log.base_images))
    return LogFacts(
        tuple(bases),
        sum(p.log.cache_hits for p in parts),
        sum(p.log.cache_misses for p in parts),
    )


@contextmanager
def _removed(path: Path | None) -> Iterator[None]:
    """Remove `path` at the end, if it is still there (a build that failed half way)."""
    try:
        yield
    finally:
        if path is not None:
            remove_tree(path)


def build_platforms(spec: BuildSpec, host: Platform, build_one: BuildOne, ctx: RunContext) -> BuildOutcome:
    """Build every platform, then push the index and write the OCI outputs."""
    targets = [parse_platform("platforms", p) for p in spec.platforms]
    parts: list[BuildOutcome] = []
    local = spec.local_cache
    # Every platform reads cache-from's directory as it was (it may be cache-to's too, as a
    # gha cache's always is): their caches gather beside it and replace it once all are built.
    pending = pending_for(local.dest) if local is not None and local.dest is not None else None
    with scratch_dir(ctx.work_base, ctx.cancel) as scratch, _removed(pending):
        for number, target in enumerate(targets):
            ctx.phases.end()
            ctx.workflow.echo(f"Building for {target}")
            one = replace(
                with_platform(spec, target, host),
                push=False,
                tar_path=None,
                oci_tar_path=None,
                oci_layout_path=None,
                local_cache=replace(local, dest=pending, merge=number > 0) if local else None,
                local_dir=None,
                rootfs_tar_path=None,
            )
            directory = scratch / str(target).replace("/", "-")
            step = platform_step(
                spec,
                target,
                ctx.access,
                ctx.workflow,
                directory,
                scratch,
                on_push=lambda: ctx.phases.start("Push"),
            )
            parts.append(build_one(one, step if spec.push or spec.writes_layout else None))
        if local is not None and local.dest is not None and pending is not None:
            problem = promote(pending, local.dest, owner_of(spec.paths.workspace))
            if problem is not None:
                ctx.workflow.warning(
                    f"input 'cache-to': the layer cache could not be written to {local.dest} "
                    f"({problem}); the image is not affected"
                )
        images = tuple(p.platform_images[0] for p in parts if p.platform_images)
        pushed: PushResult | None = None
        index_media_type: str | None = None
        exported = Exported()
        digest: str | None = None
        body = b""
        if images:
            body, index_media_type, digest = assemble_index(images)
        if spec.push and digest is not None and index_media_type is not None:
            for ref in spec.references:
                try:
                    ctx.access.client.put_manifest(
                        ref.registry, ref.repository, ref.tag or "latest", body, index_media_type
                    )
                except RegistryRequestError as e:
                    raise BuildFailed(f"pushing the image index failed: {e}", pushing=True) from e
            first = spec.references[0]
            pushed = PushResult(digest, (f"{first.name}@{digest}",))
        if spec.writes_layout and images:
            layouts = [scratch / str(i.platform).replace("/", "-") for i in images]
            trees = Exported()
            if spec.local_dir is not None or spec.rootfs_tar_path is not None:
                read = [
                    (platform_directory(str(i.platform)), read_image(d))
                    for i, d in zip(images, layouts)
                ]
                trees = export_filesystem(spec, read, scratch, ctx.workflow.warning)
            if spec.oci_layout_path is not None or spec.oci_tar_path is not None:
                exported = export_layout(spec, _merge(spec, layouts, images, scratch), scratch)
            exported = replace(
                exported, local_dir=trees.local_dir, rootfs_tar_path=trees.rootfs_tar_path
            )
    return BuildOutcome(
        kaniko_version=next((p.kaniko_version for p in parts if p.kaniko_version), None),
        log=_merged_log(parts),
        pushed=pushed,
        image=BuiltImage(digest, index_media_type, len(body)) if digest is not None else None,
        exported=exported,
        platform_images=images,
        run_environment="; ".join(dict.fromkeys(p.run_environment for p in parts if p.run_environment))
        or None,
    )


def _merge(
    spec: BuildSpec, layouts: Sequence[Path], images: Sequence[PlatformImage], scratch: Path
) -> Path:
    """One layout with every platform image and the index over them, in `scratch`."""
    pairs = [(read_image(d), i) for d, i in zip(layouts, images)]
    first = spec.references[0] if spec.references else None
    merged = scratch / "merged"
    merge_layouts(pairs, merged, first.tag if first else None)
    return merged
