"""What a build produced, assembled once it is over, as the `metadata` output and as a job
summary. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from dataclasses import dataclass, field

from ..oci.index import platform_metadata
from ..spec.build_spec import BuildSpec
from .single import BuildOutcome, FailedBuild


@dataclass(frozen=True)
class BuildReport:
    destinations: Sequence[str] = ()
    pushed: bool = False
    digest: str | None = None
    image: str | None = None
    image_id: str | None = None
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
    # Multi-platform builds: each platform's manifest digest and image ID, and the index type.
    platforms: Sequence[Mapping[str, str]] = ()
    index_media_type: str | None = None
    # What RUN steps got: namespaces of their own, or the plain chroot and why.
    run_environment: str | None = None
    phases: Mapping[str, float] = field(default_factory=dict)
    duration: float = 0.0
    failure: str | None = None
    failure_location: str | None = None

    def metadata(self) -> str:
        descriptor = (
            {"mediaType": self.index_media_type, "digest": self.digest}
            if self.index_media_type and self.digest
            else None
        )
        return json.dumps(
            {
                "destinations": list(self.destinations) if self.pushed else [],
                "digest": self.digest,
                "containerimage.digest": self.digest,
                # An index has no configuration; buildx leaves this out for several platforms.
                "containerimage.config.digest": None if self.platforms else self.image_id,
                "containerimage.descriptor": descriptor,
                "platforms": [dict(p) for p in self.platforms],
                "image.name": ",".join(self.destinations),
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
    build still told, when it got that far)."""
    done = outcome or BuildOutcome()
    version = done.kaniko_version or (failed.kaniko_version if failed else None)
    log = failed.log if outcome is None and failed is not None else done.log
    environment = done.run_environment or (failed.run_environment if failed else None)
    pushed = done.pushed
    return BuildReport(
        destinations=tuple(spec.destinations),
        pushed=pushed is not None,
        digest=pushed.digest if pushed else done.index_digest,
        image=pushed.image if pushed else None,
        image_id=done.image_id,
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
        index_media_type=done.index_media_type,
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
