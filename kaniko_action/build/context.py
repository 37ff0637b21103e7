"""What every build of one action run shares: the environment, the workflow commands and log
phases, the cancellation state, the credentials and registry access, and where work
directories go (RUNNER_TEMP, or the work-dir input)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..cancellation import CancelState
from ..registry.access import RegistryAccess
from ..registry.credentials import DockerConfig, HelperEnvironment
from ..workflow.commands import Phases, Workflow


@dataclass(frozen=True)
class RunContext:
    env: Mapping[str, str]
    workflow: Workflow
    phases: Phases
    cancel: CancelState
    config: DockerConfig
    helper_env: HelperEnvironment
    access: RegistryAccess
    work_base: Path
    # Whether work_base is the work-dir input's (else RUNNER_TEMP), and where else stale
    # work directories are looked for.
    work_dir_given: bool = False
    also_reap: tuple[Path, ...] = ()
