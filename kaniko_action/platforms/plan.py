"""Before any build: what the Dockerfile does on each target platform, and whether the runner
can run the foreign-architecture RUN steps among it.

Only stages that run `RUN` steps on a platform the runner's CPU cannot execute need emulation
(a binfmt_misc handler such as qemu-user). Stages that cross-compile, `FROM
--platform=$BUILDPLATFORM`, run natively (the action pins their base images to the runner's
platform, see platform_pins.py), and a stage without RUN executes nothing at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..cancellation import CancelState
from ..dockerfile.parser import parse
from ..errors import RunnerError
from ..oci.platform import Platform
from ..spec.build_spec import BuildSpec
from .emulation import emulation_problem
from .stages import StagePlatform, foreign_runs, meta_args, predefined_args, stage_platforms, stages


def plan(
    spec: BuildSpec, target: Platform, host: Platform, text: str | None = None
) -> list[StagePlatform]:
    """Each stage that gets built, with the platform it runs on: of the user's Dockerfile,
    or of `text` (the chroot's copy, rewritten for named contexts)."""
    if text is None:
        text = spec.paths.dockerfile.read_text(encoding="utf-8", errors="replace")
    instructions = parse(text)
    build_args = dict(spec.build_args)
    values: Mapping[str, str] = {
        **meta_args(instructions, build_args),
        **predefined_args(host, target),
    }
    return stage_platforms(stages(instructions, values), target, spec.target)


def check_emulation(
    spec: BuildSpec,
    targets: Sequence[Platform],
    host: Platform,
    work_base: Path,
    cancel: CancelState | None = None,
) -> None:
    """Refuse, before building, a platform whose RUN steps the runner cannot execute."""
    rel = os.path.relpath(spec.paths.dockerfile, spec.paths.workspace)
    for target in targets:
        foreign = foreign_runs(plan(spec, target, host), host)
        checked: dict[Platform, str | None] = {}
        for stage in foreign:
            if stage.platform not in checked:
                checked[stage.platform] = emulation_problem(
                    stage.platform, work_base, cancel=cancel
                )
            problem = checked[stage.platform]
            if problem is None:
                continue
            where = f"{rel}:{stage.stage.run_lines[0]}"
            raise RunnerError(
                f"{target}: stage {stage.stage.index} runs RUN steps for {stage.platform} "
                f"({where}) on a {host} runner, but {problem}. Register qemu-user "
                "handlers with the F flag on the node (for example Debian's qemu-user-static "
                "package, or the tonistiigi/binfmt image), or cross-compile: run those steps "
                "in a `FROM --platform=$BUILDPLATFORM` stage",
            )
