"""The orchestrator: inputs -> spec -> credentials and masks -> one build or one per platform
-> report -> outputs and summary. Every step below returns its result; this module only
passes results on and turns failures into the annotation and exit status the runner shows."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import PurePosixPath

from ..cancellation import CancelState, cancellation
from ..dockerfile.parser import locate, parse
from ..errors import ActionError, BuildFailed, Cancelled
from ..oci.platform import host_platform, parse_platform
from ..platforms.plan import check_emulation
from ..registry.access import registry_access
from ..registry.credentials import helper_environment, load_runner_config, merge_config
from ..sandbox.kaniko_files import available_helpers, check_executor_dir
from ..sandbox.layout import INJECTED
from ..sandbox.workdirs import swept_bases, work_base
from ..spec.build_spec import BuildSpec, build_spec
from ..spec.inputs import read_raw_inputs
from ..spec.paths import workspace_of
from ..workflow.commands import Phases, Workflow
from ..workflow.gha_cache import RESTORED_KEY_ENV
from ..workflow.job_container import explained
from ..workflow.masking import build_masks
from .caching import gha_cache_key
from .context import RunContext
from .outputs import publish
from .report import assemble, summary_markdown
from .single import BuildOutcome, FailedBuild, OnImage, build_image, run_environment


def _spec(env: Mapping[str, str], workflow: Workflow) -> BuildSpec:
    raw = read_raw_inputs(env)
    if raw["password"]:
        # Before anything else can print: no message of the spec's checks holds it, but a
        # value pasted into the wrong input might.
        workflow.mask(raw["password"])
    return build_spec(raw, workspace_of(env), env.get("RUNNER_TEMP") or None, env)


def _context(
    spec: BuildSpec,
    env: Mapping[str, str],
    workflow: Workflow,
    phases: Phases,
    cancel: CancelState,
) -> RunContext:
    """What the spec's builds share; every secret is masked before this returns."""
    check_executor_dir(spec.executor_dir)
    runner_config = load_runner_config(env)
    config = merge_config(
        runner_config.content, spec.login, available_helpers(spec.executor_dir)
    )
    helper_env = helper_environment(env, (*INJECTED, PurePosixPath("/kaniko")))
    for text in build_masks(spec, env, config.secrets, helper_env.variables):
        workflow.mask(text)
    loaded = [runner_config.warning] if runner_config.warning else []
    for warning in [*spec.warnings, *loaded, *config.warnings]:
        workflow.warning(warning)
    for notice in spec.notices:
        workflow.notice(notice)
    access = registry_access(spec, config, helper_env, workflow.mask)
    return RunContext(
        env,
        workflow,
        phases,
        cancel,
        config,
        helper_env,
        access,
        work_base(env, spec.work_dir),
        work_dir_given=spec.work_dir is not None,
        also_reap=swept_bases(env, spec.work_dir),
    )


def _build(spec: BuildSpec, ctx: RunContext) -> BuildOutcome:
    """One build, or one per platform (multiplatform.py), after checking that the runner can
    run each platform's RUN steps, and telling how it runs them."""
    environment = run_environment(spec, ctx)
    host = host_platform()
    named = spec.platforms or ((spec.platform,) if spec.platform else ())
    targets = [parse_platform("platforms", p) for p in named]
    check_emulation(spec, targets or [host], host, ctx.work_base, ctx.cancel)
    # Loaded only when used: they bring in the registry client (HTTP, TLS).
    if spec.platforms:
        from .multiplatform import build_platforms

        def build_one(one: BuildSpec, on_image: OnImage | None) -> BuildOutcome:
            return build_image(one, ctx, environment, on_image)

        return build_platforms(spec, host, build_one, ctx)
    if targets:
        from .multiplatform import with_platform

        return build_image(with_platform(spec, targets[0], host), ctx, environment)
    return build_image(spec, ctx, environment)


def _failure_location(error: BuildFailed, spec: BuildSpec) -> tuple[str, int, int] | None:
    """(Dockerfile relative to the workspace, first line, last line) of the instruction that
    failed, when kaniko named one that the Dockerfile has."""
    if not error.instruction or error.pushing:
        return None
    dockerfile = spec.paths.dockerfile
    try:
        found = locate(parse(dockerfile.read_text(encoding="utf-8")), error.instruction, error.stage)
    except (OSError, UnicodeDecodeError):
        return None
    if found is None:
        return None
    return os.path.relpath(dockerfile, spec.paths.workspace), found.line, found.end_line


def run(env: Mapping[str, str], workflow: Workflow | None = None) -> int:
    """Entry point shared by the action and the command line; returns the exit status.

    SIGINT, SIGTERM and SIGHUP (a cancelled workflow run) end it as Cancelled from the first
    moment; see cancellation.
    """
    with cancellation() as cancel:
        return _run(env, workflow or Workflow(env), cancel)


def _run(env: Mapping[str, str], workflow: Workflow, cancel: CancelState) -> int:
    started = time.monotonic()
    phases = workflow.phases()
    spec: BuildSpec | None = None
    outcome: BuildOutcome | None = None
    failed: FailedBuild | None = None
    failure: str | None = None
    location: tuple[str, int, int] | None = None
    status = 0
    try:
        phases.start("Resolve inputs")
        spec = _spec(env, workflow)
        outcome = _build(spec, _context(spec, env, workflow, phases, cancel))
    except Cancelled as e:
        phases.end()
        workflow.error(str(e), title=e.title)
        failure, status = str(e), 128 + e.signum
    except BuildFailed as e:
        phases.end()
        assert spec is not None
        failure, status = str(e), 1
        failed = e.details if isinstance(e.details, FailedBuild) else None
        location = _failure_location(e, spec)
        if location is None:
            workflow.error(failure, title=e.title)
        else:
            rel, line, end = location
            workflow.error(failure, title=e.title, file=rel, line=line, endLine=end)
    except ActionError as e:
        phases.end()
        failure, status = explained(e, env), 1
        workflow.error(failure, title=e.title)
    except OSError as e:
        # The sandbox is already gone (its context manager removes it on any exception).
        phases.end()
        failure = f"{e.strerror or e}: {e.filename}" if e.filename else str(e)
        workflow.error(failure, title="kaniko-build")
        status = 1
    if spec is None:
        return status
    report = assemble(
        spec,
        outcome,
        phases.durations,
        time.monotonic() - started,
        failure=failure,
        failure_location=f"{location[0]}:{location[1]}" if location else None,
        failed=failed,
    )
    if status == 0:
        publish(spec, report, workflow)
        gha_key = gha_cache_key(spec, env.get(RESTORED_KEY_ENV, ""), workflow.echo)
        if gha_key is not None:
            workflow.set_output("gha-cache-key", gha_key)
        what = (
            f"Pushed {', '.join(spec.destinations)} as {report.digest}"
            if report.pushed
            else "Built without pushing"
        )
        workflow.echo(f"{what} in {report.duration:.1f}s")
    if spec.summary:
        workflow.summary(summary_markdown(report))
    return status
