"""One image built in one fresh sandbox: preflight, staging, the executor run, reading what it
pushed, collecting what it wrote, and the sandbox's removal whatever happens."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..errors import BuildFailed, InputError
from ..executor.argv import Invocation
from ..executor.log import LogFacts, LogWatcher
from ..executor.probe import VersionProbe
from ..executor.process import run_in_chroot
from ..executor.results import PushResult, read_digest, read_result
from ..oci.built import BuiltImage, built_image
from ..oci.index import PlatformImage
from ..registry.credentials import helpers_in_use, write_docker_config
from ..sandbox.chroot import Sandbox
from ..sandbox.layout import ChrootLayout, chroot_layout
from ..sandbox.namespaces import DEFAULT_SHM_BYTES, RunEnvironment
from ..sandbox.namespaces import probe as probe_namespaces
from ..sandbox.preflight import check_capabilities, check_free_space, check_work_base, out_of_space
from ..sandbox.preflight import tree_bytes
from ..spec.build_spec import BuildSpec
from ..spec.references import parse_reference
from ..staging.exports import Exported, export_build
from ..staging.named import stage_named_contexts
from ..staging.files import stage_cache_dir, stage_certificates, stage_context
from ..staging.files import stage_files_in_place
from .caching import restore_cache, save_cache
from .context import RunContext
from .hooks import prepare_executor, pushed_image

# The multi-platform flow's step inside the sandbox after a successful build: collect the
# platform's image and push it by digest.
OnImage = Callable[[Sandbox, ChrootLayout, LogFacts], PlatformImage]


@dataclass(frozen=True)
class BuildOutcome:
    """What one build (or, assembled by multiplatform.py, several) produced."""

    kaniko_version: str | None = None
    log: LogFacts = LogFacts()
    pushed: PushResult | None = None
    # The image manifest pushed or written (several platforms: the index over them), when
    # kaniko, its files or the registry told it.
    image: BuiltImage | None = None
    exported: Exported = Exported()
    # Several platforms: each platform's image.
    platform_images: tuple[PlatformImage, ...] = ()
    # What RUN steps got (RunEnvironment.summary()).
    run_environment: str | None = None


@dataclass(frozen=True)
class FailedBuild:
    """What a failed build still told before failing (the summary shows it)."""

    kaniko_version: str | None
    log: LogFacts
    run_environment: str | None = None


def destination_matcher(spec: BuildSpec) -> Callable[[str], bool]:
    """Whether a reference kaniko logs is one of the destinations (in any spelling)."""
    wanted = {(r.registry, r.repository, r.tag or "latest") for r in spec.references}

    def matches(logged: str) -> bool:
        try:
            ref = parse_reference("tags", logged)
        except InputError:
            return False
        return (ref.registry, ref.repository, ref.tag or "latest") in wanted

    return matches


def preflight(spec: BuildSpec, ctx: RunContext) -> None:
    """Everything that can be known to fail before the work directory exists. The context's
    size is only known as it is staged (what .dockerignore leaves out costs nothing): running
    out of space there is reported with the same advice (see _stage)."""
    check_capabilities()
    ctx.work_base.mkdir(parents=True, exist_ok=True)
    check_work_base(ctx.work_base, from_input=ctx.work_dir_given)
    check_free_space(
        ctx.work_base, tree_bytes([spec.executor_dir]), from_input=ctx.work_dir_given
    )


def run_environment(spec: BuildSpec, ctx: RunContext) -> RunEnvironment:
    """Once per run, before any build: what RUN steps get on this runner, told at the start
    of the log."""
    check_capabilities()
    environment = probe_namespaces(spec.shm_size or DEFAULT_SHM_BYTES)
    ctx.workflow.echo(environment.log_line())
    if spec.shm_size and not environment.namespaced:
        ctx.workflow.warning(
            "input 'shm-size' has no effect: RUN steps run without namespaces here, where "
            "/dev/shm is a directory"
        )
    return environment


def _injected(ctx: RunContext) -> tuple[PurePosixPath, ...]:
    """Files staged in the chroot for credential helpers."""
    return tuple(PurePosixPath(p) for p in ctx.helper_env.files)


def _stage(
    sandbox: Sandbox,
    spec: BuildSpec,
    layout: ChrootLayout,
    ctx: RunContext,
    environment: RunEnvironment,
) -> None:
    injected = _injected(ctx)
    try:
        # Kaniko's own files (over 50 MiB) are copied on a thread while the context is staged.
        sandbox.start_kaniko_copy(layout, spec.executor_dir, helpers_in_use(ctx.config.content))
        stage_context(str(sandbox.root), spec.paths, layout)
        stage_named_contexts(str(sandbox.root), spec.build_contexts, spec.paths.workspace)
        sandbox.populate(
            layout, spec.executor_dir, injected, namespaced=environment.namespaced
        )
        sandbox.add_hosts(spec.add_hosts)
        write_docker_config(sandbox.path(layout.docker_config_dir), ctx.config.content)
        stage_files_in_place(str(sandbox.root), ctx.helper_env.files)
        stage_certificates(str(sandbox.root), spec, layout)
        if spec.cache_dir is not None:
            stage_cache_dir(str(sandbox.root), spec.cache_dir, layout)
        restore_cache(spec, sandbox, layout, ctx)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise out_of_space(sandbox.base_dir, ctx.work_dir_given) from e
        if e.errno == errno.ENAMETOOLONG:
            raise InputError(
                "context",
                f"a path in the build context is longer than this system allows "
                f"({os.pathconf('/', 'PC_PATH_MAX')} bytes once placed in the work directory): "
                "shorten the directory tree, or leave it out with .dockerignore",
            ) from e
        raise


def _run_executor(
    sandbox: Sandbox,
    invocation: Invocation,
    watcher: LogWatcher,
    probe: VersionProbe,
    ctx: RunContext,
    environment: RunEnvironment,
) -> tuple[int, RunEnvironment]:
    """The executor's exit status, and what its RUN steps got: `environment`, or the plain
    chroot when its namespaces could not be set up."""
    used = [environment]

    def fell_back(reason: str) -> None:
        used[0] = environment.without_namespaces(f"its namespaces could not be set up: {reason}")
        ctx.workflow.warning(used[0].log_line())

    def show(lines: list[str]) -> None:
        for line in lines:
            watcher.feed(line)
            ctx.workflow.untrusted(line)
        ctx.workflow.flush_untrusted()

    def started() -> None:
        # The maintained executor reads /proc/self/exe as it starts: the link goes once
        # both it and the version probe, started first, are past that.
        probe.version()
        sandbox.drop_exe_link()

    status = run_in_chroot(
        sandbox.root, invocation, show, ctx.cancel, started, environment, fell_back
    )
    return status, used[0]


def build_image(
    spec: BuildSpec,
    ctx: RunContext,
    environment: RunEnvironment,
    on_image: OnImage | None = None,
) -> BuildOutcome:
    """Run one build in a fresh sandbox, its RUN steps in `environment` (run_environment);
    raises on failure (BuildFailed carries what the log told in `details`, a FailedBuild)."""
    layout = chroot_layout(spec.paths)
    watcher = LogWatcher(
        on_push=lambda: ctx.phases.start("Push"), is_destination=destination_matcher(spec)
    )
    preflight(spec, ctx)
    try:
        with Sandbox(ctx.work_base, ctx.cancel, ctx.also_reap) as sandbox:
            ctx.phases.start("Stage")
            _stage(sandbox, spec, layout, ctx, environment)
            probe = VersionProbe(sandbox.root, layout, ctx.cancel)
            invocation = prepare_executor(
                spec,
                sandbox,
                layout,
                ctx,
                probe.version,
                oci_layout=on_image is not None,
                injected=_injected(ctx),
            )
            ctx.phases.start("Build")
            status, used = _run_executor(
                sandbox, invocation, watcher, probe, ctx, environment
            )
            version = probe.version()
            if status != 0:
                registry = spec.references[0].registry if spec.references else None
                advice = None if used.namespaced else used.missing_proc_advice()
                failure = watcher.failure(status, registry, advice)
                failure.details = FailedBuild(version, watcher.facts(), used.summary())
                raise failure
            pushed: PushResult | None = None
            pushed_manifest: BuiltImage | None = None
            digest: str | None = None
            if spec.push:
                pushed = read_result(
                    sandbox.root,
                    layout.digest_file,
                    layout.image_name_with_digest_file,
                    spec.references,
                )
                pushed_manifest = pushed_image(spec, pushed, ctx)
            save_cache(spec, sandbox, layout, watcher.facts(), ctx)
            platform_image = on_image(sandbox, layout, watcher.facts()) if on_image else None
            assert sandbox.workdir is not None
            exported = export_build(
                spec, sandbox.root, layout, sandbox.workdir, ctx.workflow.warning
            )
            if exported.tar_path and exported.manifest is None and not spec.push:
                # A docker tarball holds no manifest; kaniko wrote its digest, pushing or not.
                digest = read_digest(sandbox.root, layout.digest_file)
            ctx.phases.start("Clean up")
    finally:
        ctx.workflow.flush_untrusted()
        ctx.phases.end()
    return BuildOutcome(
        kaniko_version=version,
        log=watcher.facts(),
        pushed=pushed,
        image=built_image(pushed_manifest, digest, exported.manifest, exported.image_id),
        exported=exported,
        platform_images=(platform_image,) if platform_image else (),
        run_environment=used.summary(),
    )


__all__ = [
    "BuildFailed",
    "BuildOutcome",
    "FailedBuild",
    "OnImage",
    "build_image",
    "run_environment",
]
