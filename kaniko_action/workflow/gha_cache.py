"""The action's step before the build when an input mentions `gha`: where
actions/cache/restore restores kaniko's layer cache and under which key prefix it looks, and
which directory actions/cache/save saves after the build (spec/gha.py).

It runs as the job user, needs no root and fails nothing: inputs that do not parse give no
restore and no save, and the build step reports them. Outputs (all empty when unused):
`restore-path` and `restore-key` for the restore, `save-path` for the save, whose key the
build step gives (`gha-cache-key`) once it knows what the cache holds.

The paths are relative to the workspace, the steps' working directory (spec/gha.py says
why).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import InputError
from ..spec.buildx import translate
from ..spec.inputs import read_raw_inputs
from ..spec.paths import workspace_of
from .commands import Workflow

RESTORED_KEY_ENV = "KANIKO_BUILD_GHA_RESTORED_KEY"


def plan_outputs(env: Mapping[str, str]) -> dict[str, str]:
    """The step's outputs for the inputs in `env`."""
    try:
        compat = translate(read_raw_inputs(env), workspace_of(env))
    except InputError:
        return {}
    if compat.use_cache is False or compat.uncached:
        return {}
    outputs: dict[str, str] = {}
    if compat.cache_gha_from is not None:
        outputs["restore-path"] = compat.cache_gha_from.name
        outputs["restore-key"] = compat.cache_gha_from.prefix
    if compat.cache_gha_to is not None:
        outputs["save-path"] = compat.cache_gha_to.name
    return outputs


def plan_step(env: Mapping[str, str]) -> int:
    workflow = Workflow(env)
    for name, value in plan_outputs(env).items():
        workflow.set_output(name, value)
    return 0
