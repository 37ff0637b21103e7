"""The orchestrator: inputs -> spec -> sandbox -> executor -> outputs."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from .argv import executor_invocation
from .credentials import load_runner_config, write_docker_config
from .errors import ActionError, BuildFailed, Cancelled
from .failures import LogWatcher
from .inputs import read_raw_inputs
from .layout import chroot_layout
from .privileges import ensure_root
from .process import cancellation, run_in_chroot
from .results import BuildResult, read_result
from .runner import Runner
from .sandbox import Sandbox, check_executor_dir
from .spec import BuildSpec, build_spec
from .staging import stage_context


def work_base(env: Mapping[str, str]) -> Path:
    """Where per-build work directories go: RUNNER_TEMP when set."""
    return Path(env.get("RUNNER_TEMP") or tempfile.gettempdir())


def workspace_of(env: Mapping[str, str]) -> str:
    return env.get("GITHUB_WORKSPACE") or os.getcwd()


def build(spec: BuildSpec, env: Mapping[str, str], runner: Runner) -> BuildResult | None:
    """Run one build in a fresh sandbox; returns the pushed result, None when nothing was pushed."""
    layout = chroot_layout(spec.paths)
    invocation = executor_invocation(spec, layout)
    watcher = LogWatcher()

    def show(line: str) -> None:
        watcher.feed(line)
        runner.echo(line)

    with cancellation(), Sandbox(work_base(env)) as sandbox:
        with runner.group("Prepare the chroot"):
            sandbox.populate(layout, spec.executor_dir)
            write_docker_config(sandbox.path(layout.docker_config_dir), load_runner_config(env))
            stage_context(str(sandbox.root), spec.paths, layout)
        with runner.group("Build" + (" and push" if spec.push else "")):
            status = run_in_chroot(sandbox.root, invocation, show, sandbox.drop_exe_link)
        if status != 0:
            raise BuildFailed(watcher.summary(status), instruction=watcher.last_instruction)
        if not spec.push:
            return None
        return read_result(
            sandbox.path(layout.digest_file), sandbox.path(layout.image_name_with_digest_file)
        )


def main(script: str, argv: Sequence[str]) -> int:
    """The action's entry: become root if needed, then build from the INPUT_* variables."""
    try:
        ensure_root(script, argv)
    except ActionError as e:
        Runner(os.environ).error(str(e), title=e.title)
        return 1
    return run(os.environ)


def run(env: Mapping[str, str], runner: Runner | None = None) -> int:
    """Entry point shared by the action and the command line; returns the exit status."""
    runner = runner or Runner(env)
    started = time.monotonic()
    try:
        spec = build_spec(read_raw_inputs(env), workspace_of(env))
        check_executor_dir(spec.executor_dir)
        result = build(spec, env, runner)
    except Cancelled as e:
        runner.error(str(e), title=e.title)
        return 128 + e.signum
    except ActionError as e:
        runner.error(str(e), title=e.title)
        return 1
    if result is not None:
        runner.set_output("digest", result.digest)
        runner.set_output("image", result.image)
        runner.echo(f"Pushed {', '.join(spec.destinations)} as {result.digest}")
    else:
        runner.echo("Built without pushing")
    runner.echo(f"Done in {time.monotonic() - started:.1f}s")
    return 0
