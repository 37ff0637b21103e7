"""What a build produced, assembled once it is over, as the `metadata` output and as a job
summary. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from dataclasses import dataclass, field

from ..oci.index import platform_metadata
from ..spec.build_spec import BuildSpec
from ..spec.references import DOCKER_HUB
from .single import BuildOutcome, FailedBuild


@dataclass(frozen=True)
class BuildReport:
    destinations: Sequence[str] = ()
    pushed: bool = False
    # build-push-action's outputs, as buildx reports them (see assemble): the manifest (or
    # index) digest, the image ID, and the keys of the `metadata` output they come from.
    digest: str | None = None
    image: str | None = None
    image_id: str | None = None
    config_digest: str | None = None
    media_type: str | None = None
    size: int | None = None
    image_name: str | None = None
    kaniko_version: str | None = None
    base_images: Sequence[str] = ()
    cache_enabled: bool = False
    cache_hits: int = 0
    cache_misses: int = 0
    tar_path: str | None = None
    oci_layout_path: str | None = None
    oci_tar_path: str | None = None
    # The image's filesystem: `outputs` type=local and type=tar.
    local_dir: str | None = None
    rootfs_tar_path: str | None = None
    # Multi-platform builds: each platform's manifest digest and image ID.
    platforms: Sequence[Mapping[str, str]] = ()
    # What RUN steps got: namespaces of their own, or the plain chroot and why.
    run_environment: str | None = None
    phases: Mapping[str, float] = field(default_factory=dict)
    duration: float = 0.0
    failure: str | None = None
    failure_location: str | None = None

    def buildx_metadata(self) -> dict[str, object]:
        """The keys buildx's metadata file has for this build, with their meanings; a key
        buildx would leave out is left out."""
        keys: dict[str, object] = {}
        if self.config_digest:
            keys["containerimage.config.digest"] = self.config_digest
        if self.digest and self.media_type and self.size is not None:
            keys["containerimage.descriptor"] = {
                "mediaType": self.media_type,
                "digest": self.digest,
                "size": self.size,
            }
        if self.digest:
            keys["containerimage.digest"] = self.digest
        if self.image_name:
            keys["image.name"] = self.image_name
        return keys

    def metadata(self) -> str:
        return json.dumps(
            {
                **self.buildx_metadata(),
                "destinations": list(self.destinations) if self.pushed else [],
                "digest": self.digest,
                "platforms": [dict(p) for p in self.platforms],
                "image": self.image,
                "imageid": self.image_id,
                "kaniko.version": self.kaniko_version,
                "base-images": list(self.base_images),
                "cache": {
                    "enabled": self.cache_enabled,
                    "hits": self.cache_hits,
                    "misses": self.cache_misses,
                },
                "tar-path": self.tar_path,
                "oci-layout-path": self.oci_layout_path,
                "oci-tar-path": self.oci_tar_path,
                "local-dir": self.local_dir,
                "rootfs-tar-path": self.rootfs_tar_path,
                "duration-seconds": round(self.duration, 3),
                "phases": {k: round(v, 3) for k, v in self.phases.items()},
            },
            indent=2,
        )


def exports_image(spec: BuildSpec) -> bool:
    """Whether one of buildx's image exporters runs for `spec`: a push (type=image or
    type=registry), type=docker or type=oci; not type=local, type=tar, type=cacheonly, nor a
    build that is only built."""
    return spec.push or any(
        p is not None for p in (spec.tar_path, spec.oci_layout_path, spec.oci_tar_path)
    )


def image_names(spec: BuildSpec) -> str | None:
    """buildx's `image.name`: the tags as given when pushed; as the docker and oci exporters
    write them into their files otherwise (`docker.io/library/app:latest`)."""
    if not spec.destinations:
        return None
    if spec.push:
        return ",".join(spec.destinations)
    return ",".join(
        f"{'docker.io' if r.registry == DOCKER_HUB else r.registry}/{r.repository}:"
        + (r.tag or "latest")
        for r in spec.references
    )


def assemble(
    spec: BuildSpec,
    outcome: BuildOutcome | None,
    phases: Mapping[str, float],
    duration: float,
    failure: str | None = None,
    failure_location: str | None = None,
    failed: FailedBuild | None = None,
) -> BuildReport:
    """The report of a build that ended with `outcome`, or failed (with what the failed
    build still told, when it got that far).

    `digest` and `imageid` are set when build-push-action sets them: `digest` (buildx's
    `containerimage.digest`) whenever an image exporter ran (exports_image); `imageid`
    then too, unless `outputs` has type=local or type=tar (build-push-action passes buildx no
    `--iidfile` then): the config digest, or for several platforms the index digest (an
    index has no configuration), as buildx writes it."""
    done = outcome or BuildOutcome()
    version = done.kaniko_version or (failed.kaniko_version if failed else None)
    log = failed.log if outcome is None and failed is not None else done.log
    environment = done.run_environment or (failed.run_environment if failed else None)
    pushed = done.pushed
    image = done.image if exports_image(spec) else None
    config = image.config_digest if image is not None and not spec.platforms else None
    with_iidfile = spec.local_dir is None and spec.rootfs_tar_path is None
    image_id = None
    if image is not None and with_iidfile:
        image_id = image.digest if spec.platforms else config
    return BuildReport(
        destinations=tuple(spec.destinations),
        pushed=pushed is not None,
        digest=image.digest if image else None,
        image=pushed.image if pushed else None,
        image_id=image_id,
        config_digest=config,
        media_type=image.media_type if image else None,
        size=image.size if image else None,
        image_name=image_names(spec) if image else None,
        kaniko_version=version,
        base_images=log.base_images,
        cache_enabled=spec.cache,
        cache_hits=log.cache_hits,
        cache_misses=log.cache_misses,
        tar_path=done.exported.tar_path,
        oci_layout_path=done.exported.oci_layout_path,
        oci_tar_path=done.exported.oci_tar_path,
        local_dir=done.exported.local_dir,
        rootfs_tar_path=done.exported.rootfs_tar_path,
        platforms=tuple(platform_metadata(done.platform_images)),
        run_environment=environment,
        phases=dict(phases),
        duration=duration,
        failure=failure,
        failure_location=failure_location,
    )


def _code(text: str) -> str:
    """A Markdown code span on one table row: CR and LF (a line from a RUN step may hold
    them) would end the row and let the rest be read as Markdown."""
    flat = " ".join(text.replace("\r", "\n").split("\n"))
    return "`" + flat.replace("`", "'").replace("|", "\\|") + "`"


def summary_markdown(report: BuildReport) -> str:
    status = "failed" if report.failure else ("pushed" if report.pushed else "built")
    lines = [f"### kaniko-build: image {status}", ""]
    if report.failure:
        where = f" ({report.failure_location})" if report.failure_location else ""
        lines += [f"**Failure{where}:** {_code(report.failure)}", ""]
    rows: list[tuple[str, str]] = []
    for dest in report.destinations:
        rows.append(("Destination" if report.pushed else "Name", _code(dest)))
    if report.digest:
        rows.append(("Digest", _code(report.digest)))
    if report.image:
        rows.append(("Image", _code(report.image)))
    if report.image_id:
        rows.append(("Image ID", _code(report.image_id)))
    for item in report.platforms:
        rows.append((f"Platform {_code(item['platform'])}", _code(item["digest"])))
    for base in report.base_images:
        rows.append(("Base image", _code(base)))
    if report.cache_enabled:
        rows.append(("Cache", f"{report.cache_hits} hit(s), {report.cache_misses} miss(es)"))
    else:
        rows.append(("Cache", "off"))
    if report.tar_path:
        rows.append(("Tarball", _code(report.tar_path)))
    if report.oci_layout_path:
        rows.append(("OCI layout", _code(report.oci_layout_path)))
    if report.oci_tar_path:
        rows.append(("OCI tarball", _code(report.oci_tar_path)))
    if report.local_dir:
        rows.append(("Filesystem", _code(report.local_dir)))
    if report.rootfs_tar_path:
        rows.append(("Filesystem tarball", _code(report.rootfs_tar_path)))
    if report.kaniko_version:
        rows.append(("kaniko", _code(report.kaniko_version)))
    if report.run_environment:
        rows.append(("RUN steps", report.run_environment.replace("|", "\\|")))
    phases = ", ".join(f"{k} {v:.1f}s" for k, v in report.phases.items())
    rows.append(("Duration", f"{report.duration:.1f}s" + (f" ({phases})" if phases else "")))
    lines += ["| | |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n\n"
