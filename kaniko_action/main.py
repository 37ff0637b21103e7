"""The orchestrator: inputs -> spec -> sandbox -> executor -> outputs."""

from __future__ import annotations

import errno
import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath

from .argv import executor_invocation, executor_passthrough
from .build_hooks import BuildHooks, OnImage, RegistryAccess, registry_access
from .cancellation import CancelState, cancellation, follow_parent
from .collect import collect_file, collect_tree
from .credentials import (
    SECRET_VARIABLES,
    DockerConfig,
    HelperEnvironment,
    available_helpers,
    helper_environment,
    helpers_in_use,
    load_runner_config,
    merge_config,
    write_docker_config,
)
from .dockerfile import locate, parse
from .errors import ActionError, BuildFailed, Cancelled, InputError
from .executor_probe import VersionProbe
from .inputs import read_raw_inputs
from .kaniko_log import LogWatcher
from .layout import INJECTED, ChrootLayout, chroot_layout
from .paths import output_base
from .platform_plan import check_emulation, runner_platform
from .platforms import parse_platform
from .preflight import (
    check_capabilities,
    check_free_space,
    check_work_base,
    out_of_space,
    tree_bytes,
)
from .privileges import ensure_root, sudo_parent
from .process import run_in_chroot
from .references import parse_reference
from .registry_errors import explain
from .report import BuildReport, summary_markdown
from .results import (
    image_id_from_oci_layout,
    image_id_from_tarball,
    read_result,
)
from .runner import Phases, Runner
from .sandbox import Sandbox, check_executor_dir
from .secret_staging import texts_to_mask
from .spec import BuildSpec, build_spec
from .staging import (
    stage_cache_dir,
    stage_certificates,
    stage_context,
    stage_files_in_place,
)

_SECRET_NAME = re.compile(r"(?i)(token|secret|passw|pwd|credential|auth|private|api_?key)")


def work_base(env: Mapping[str, str]) -> Path:
    """Where per-build work directories go: RUNNER_TEMP when set, as a real path.

    Resolved once: the chroot's processes and mounts are recognised by the path the kernel
    reports, which never goes through a symlink.
    """
    return Path(os.path.realpath(env.get("RUNNER_TEMP") or tempfile.gettempdir()))


def workspace_of(env: Mapping[str, str]) -> str:
    return env.get("GITHUB_WORKSPACE") or os.getcwd()


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


def mask_secrets(
    spec: BuildSpec, runner: Runner, config: DockerConfig, helper_env: HelperEnvironment
) -> None:
    """Mask every secret-bearing value before anything prints: the login, the credentials
    from the runner's docker config, the helpers' secret variables, and build arguments
    whose names say they are secret."""
    if spec.login is not None:
        runner.mask(spec.login.password)
        runner.mask(spec.login.auth)
    for secret in config.secrets:
        runner.mask(secret)
    for name in SECRET_VARIABLES & helper_env.variables.keys():
        runner.mask(helper_env.variables[name])
    for name, value in spec.build_args:
        if value and _SECRET_NAME.search(name):
            runner.mask(value)


def _prepare(
    sandbox: Sandbox,
    spec: BuildSpec,
    layout: ChrootLayout,
    config: DockerConfig,
    helper_env: HelperEnvironment,
) -> None:
    injected = tuple(PurePosixPath(p) for p in helper_env.files)
    try:
        # Kaniko's own files (over 50 MiB) are copied on a thread while the context is staged.
        sandbox.start_kaniko_copy(layout, spec.executor_dir, helpers_in_use(config.content))
        stage_context(str(sandbox.root), spec.paths, layout)
        sandbox.populate(layout, spec.executor_dir, injected)
        sandbox.add_hosts(spec.add_hosts)
        write_docker_config(sandbox.path(layout.docker_config_dir), config.content)
        stage_files_in_place(str(sandbox.root), helper_env.files)
        stage_certificates(str(sandbox.root), spec, layout)
        if spec.cache_dir is not None:
            stage_cache_dir(str(sandbox.root), spec.cache_dir, layout)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise out_of_space(sandbox.base_dir) from e
        raise


def _collect(sandbox: Sandbox, spec: BuildSpec, layout: ChrootLayout, report: BuildReport) -> None:
    workspace = spec.paths.workspace
    if spec.tar_path is not None:
        base = output_base(spec.tar_path, workspace, spec.runner_temp)
        collect_file(sandbox.root, layout.tar_path, spec.tar_path, base)
        report.tar_path = str(spec.tar_path)
        report.image_id = image_id_from_tarball(spec.tar_path)
    if spec.oci_layout_path is not None:
        base = output_base(spec.oci_layout_path, workspace, spec.runner_temp)
        collect_tree(sandbox.root, layout.oci_layout, spec.oci_layout_path, base)
        report.oci_layout_path = str(spec.oci_layout_path)
        report.image_id = report.image_id or image_id_from_oci_layout(spec.oci_layout_path)
    if spec.oci_tar_path is not None:
        from .oci_layout import export_tarball

        base = output_base(spec.oci_tar_path, workspace, spec.runner_temp)
        assert sandbox.workdir is not None
        image_id = export_tarball(
            sandbox.root,
            sandbox.workdir,
            layout.oci_layout,
            spec.oci_layout_path,
            spec.oci_tar_path,
            base,
        )
        report.oci_tar_path = str(spec.oci_tar_path)
        report.image_id = report.image_id or image_id


def preflight(spec: BuildSpec, base: Path) -> None:
    """Everything that can be known to fail before the work directory exists. The context's
    size is only known as it is staged (what .dockerignore leaves out costs nothing): running
    out of space there is reported with the same advice (see _prepare)."""
    check_capabilities()
    base.mkdir(parents=True, exist_ok=True)
    check_work_base(base)
    check_free_space(base, tree_bytes([spec.executor_dir]))


def build(
    spec: BuildSpec,
    env: Mapping[str, str],
    runner: Runner,
    phases: Phases,
    report: BuildReport,
    credentials: tuple[DockerConfig, HelperEnvironment],
    cancel: CancelState,
    hooks: BuildHooks,
) -> None:
    """Run one build in a fresh sandbox, filling `report`; raises on failure."""
    config, helper_env = credentials
    layout = chroot_layout(spec.paths)
    invocation = executor_invocation(spec, layout, executor_passthrough(env, helper_env.variables))
    watcher = LogWatcher(
        on_push=lambda: phases.start("Push"), is_destination=destination_matcher(spec)
    )

    def show(lines: list[str]) -> None:
        for line in lines:
            watcher.feed(line)
            runner.untrusted(line)
        runner.flush_untrusted()

    base = work_base(env)
    preflight(spec, base)
    try:
        with Sandbox(base, cancel) as sandbox:
            phases.start("Stage")
            _prepare(sandbox, spec, layout, config, helper_env)
            probe = VersionProbe(sandbox.root, layout, cancel)
            invocation = hooks.before_build(sandbox, layout, invocation, probe.version)

            def started() -> None:
                # The maintained executor reads /proc/self/exe as it starts: the link goes
                # once both it and the version probe, started first, are past that.
                report.kaniko_version = probe.version()
                sandbox.drop_exe_link()

            phases.start("Build")
            status = run_in_chroot(sandbox.root, invocation, show, cancel, started)
            report.kaniko_version = report.kaniko_version or probe.version()
            report.base_images = list(watcher.base_images)
            report.cache_hits = len(watcher.cache_hits)
            report.cache_misses = len(watcher.cache_misses)
            if status != 0:
                fallback = spec.references[0].registry if watcher.pushing else None
                watcher.explanation = explain("\n".join(watcher.errors), fallback)
                raise BuildFailed(
                    watcher.summary(status),
                    instruction=watcher.last_instruction,
                    stage=watcher.stage,
                    pushing=watcher.pushing,
                )
            if spec.push:
                result = read_result(
                    sandbox.root,
                    layout.digest_file,
                    layout.image_name_with_digest_file,
                    spec.references,
                )
                report.pushed = True
                report.digest = result.digest
                report.image = result.image
            hooks.after_build(sandbox, layout, report)
            _collect(sandbox, spec, layout, report)
            phases.start("Clean up")
    finally:
        runner.flush_untrusted()
        phases.end()


def _annotate_failure(
    error: BuildFailed, spec: BuildSpec, runner: Runner, report: BuildReport
) -> None:
    dockerfile = spec.paths.dockerfile
    rel = os.path.relpath(dockerfile, spec.paths.workspace)
    found = None
    if error.instruction and not error.pushing:
        try:
            found = locate(
                parse(dockerfile.read_text(encoding="utf-8")), error.instruction, error.stage
            )
        except (OSError, UnicodeDecodeError):
            found = None
    if found is not None:
        report.failure_location = f"{rel}:{found.line}"
        runner.error(
            str(error), title=error.title, file=rel, line=found.line, endLine=found.end_line
        )
    else:
        runner.error(str(error), title=error.title)


def main(script: str, argv: Sequence[str]) -> int:
    """The action's entry: become root if needed, then build from the INPUT_* variables."""
    try:
        ensure_root(script, argv)
    except ActionError as e:
        Runner(os.environ).error(str(e), title=e.title)
        return 1
    parent = sudo_parent()
    if parent is not None:
        follow_parent(parent)
    return run(os.environ)


def _publish(spec: BuildSpec, runner: Runner, report: BuildReport) -> None:
    if report.pushed and report.digest:
        runner.set_output("digest", report.digest)
        runner.set_output("image", report.image or "")
        runner.set_output("tags", "\n".join(spec.destinations))
    if report.image_id:
        runner.set_output("imageid", report.image_id)
    if report.tar_path:
        runner.set_output("tar-path", report.tar_path)
    if report.oci_layout_path:
        runner.set_output("oci-layout-path", report.oci_layout_path)
    runner.set_output("metadata", report.metadata())


def _build_all(
    spec: BuildSpec,
    env: Mapping[str, str],
    runner: Runner,
    phases: Phases,
    report: BuildReport,
    credentials: tuple[DockerConfig, HelperEnvironment],
    cancel: CancelState,
) -> None:
    """One build, or one per platform (multiplatform.py), after checking that the runner can
    run each platform's RUN steps."""
    host = runner_platform()
    named = spec.platforms or ((spec.platform,) if spec.platform else ())
    targets = [parse_platform("platforms", p) for p in named]
    check_emulation(spec, targets or [host], host, work_base(env), cancel)
    access: RegistryAccess = registry_access(spec, *credentials, runner)

    def announce(text: str) -> None:
        phases.end()
        runner.echo(text)

    def build_one(one: BuildSpec, part: BuildReport, on_image: OnImage | None) -> None:
        hooks = BuildHooks(one, env, runner, access, credentials[1], cancel, on_image)
        build(one, env, runner, phases, part, credentials, cancel, hooks)

    # Loaded only when used: they bring in the registry client (HTTP, TLS).
    if spec.platforms:
        from .multiplatform import build_platforms

        build_platforms(
            spec, host, build_one, access, runner, report, work_base(env), cancel,
            on_push=lambda: phases.start("Push"), announce=announce,
        )  # fmt: skip
    elif targets:
        from .multiplatform import with_platform

        build_one(with_platform(spec, targets[0], host), report, None)
    else:
        build_one(spec, report, None)


def run(env: Mapping[str, str], runner: Runner | None = None) -> int:
    """Entry point shared by the action and the command line; returns the exit status.

    SIGINT, SIGTERM and SIGHUP (a cancelled workflow run) end it as Cancelled from the first
    moment; see cancellation.
    """
    with cancellation() as cancel:
        return _run(env, runner or Runner(env), cancel)


def _run(env: Mapping[str, str], runner: Runner, cancel: CancelState) -> int:
    started = time.monotonic()
    phases = runner.phases()
    report = BuildReport()
    spec: BuildSpec | None = None
    status = 0
    try:
        phases.start("Resolve inputs")
        raw = read_raw_inputs(env)
        if raw["password"]:
            runner.mask(raw["password"])
        spec = build_spec(raw, workspace_of(env), env.get("RUNNER_TEMP") or None, env)
        for text in texts_to_mask(spec.secrets, env):
            runner.mask(text)
        check_executor_dir(spec.executor_dir)
        config = merge_config(
            load_runner_config(env), spec.login, available_helpers(spec.executor_dir)
        )
        helper_env = helper_environment(env, (*INJECTED, PurePosixPath("/kaniko")))
        mask_secrets(spec, runner, config, helper_env)
        for warning in [*spec.warnings, *config.warnings]:
            runner.warning(warning)
        report.destinations = list(spec.destinations)
        report.cache_enabled = spec.cache
        _build_all(spec, env, runner, phases, report, (config, helper_env), cancel)
    except Cancelled as e:
        phases.end()
        runner.error(str(e), title=e.title)
        report.failure = str(e)
        status = 128 + e.signum
    except BuildFailed as e:
        phases.end()
        report.failure = str(e)
        assert spec is not None
        _annotate_failure(e, spec, runner, report)
        status = 1
    except ActionError as e:
        phases.end()
        runner.error(str(e), title=e.title)
        report.failure = str(e)
        status = 1
    except OSError as e:
        # The sandbox is already gone (its context manager removes it on any exception).
        phases.end()
        message = f"{e.strerror or e}: {e.filename}" if e.filename else str(e)
        runner.error(message, title="kaniko-build")
        report.failure = message
        status = 1
    report.duration = time.monotonic() - started
    report.phases = dict(phases.durations)
    if spec is None:
        return status
    if status == 0:
        _publish(spec, runner, report)
        what = (
            f"Pushed {', '.join(spec.destinations)} as {report.digest}"
            if report.pushed
            else ("Built without pushing")
        )
        runner.echo(f"{what} in {report.duration:.1f}s")
    if spec.summary:
        runner.summary(summary_markdown(report))
    return status
