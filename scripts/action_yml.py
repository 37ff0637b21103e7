"""Write action.yml from the input and output definitions in kaniko_action/spec/inputs.py and kaniko_action/build/outputs.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kaniko_action.build.outputs import OUTPUTS  # noqa: E402
from kaniko_action.spec.inputs import INPUTS, env_name  # noqa: E402
from kaniko_action.workflow.gha_cache import RESTORED_KEY_ENV  # noqa: E402

HEADER = """\
name: kaniko-build
description: >-
  Build and push container images with kaniko in a disposable chroot, on runners where Docker
  and privileged pods are not allowed.
author: kaniko-build
branding:
  icon: package
  color: blue
"""


# A job container (`container:`, kubernetes mode) runs the step in the user's image, which may
# have no python3: no-python3.sh says so. Both lines exec: the step's process is the action.
RUN_SCRIPT = """\
command -v python3 >/dev/null || exec "$BASH" "$GITHUB_ACTION_PATH/no-python3.sh"
exec python3 "$GITHUB_ACTION_PATH/entrypoint.py"
"""


# actions/cache's restore and save, pinned by commit: only they can reach the cache service
# (a `run:` step never gets its token). They run only when a cache-from / cache-to entry is
# `type=gha` (kaniko_action/workflow/gha_cache.py plans them, spec/gha.py holds the keys).
ACTIONS_CACHE = "actions/cache/{}@27d5ce7f107fe9357f9df03efb73ab90386fccae  # v5.0.5"
GHA_INPUTS = ("cache-from", "cache-to", "no-cache", "no-cache-filters")
PLAN = "steps.gha-cache.outputs"

GHA_PLAN_SCRIPT = """\
command -v python3 >/dev/null || exit 0
exec python3 "$GITHUB_ACTION_PATH/entrypoint.py" gha-cache
"""

# The paths are relative to the workspace, as actions/cache was given them.
GHA_CLEANUP_SCRIPT = """\
cd -- "$GITHUB_WORKSPACE"
for dir in "$RESTORE_PATH" "$SAVE_PATH"; do
  if [ -n "$dir" ]; then rm -rf -- "$dir"; fi
done
"""


def _block(script: str) -> list[str]:
    return ["      run: |", *(f"        {line}" if line else "" for line in script.splitlines())]


def gha_steps_before() -> list[str]:
    return [
        "    # type=gha: restore kaniko's layer cache from the GitHub Actions cache.",
        "    - id: gha-cache",
        "      if: contains(inputs.cache-from, 'gha') || contains(inputs.cache-to, 'gha')",
        "      # A python3 the build step cannot use either: that step says why.",
        "      continue-on-error: true",
        "      shell: bash",
        *_block(GHA_PLAN_SCRIPT),
        "      env:",
        *(f"        {env_name(n)}: ${{{{ inputs.{n} }}}}" for n in GHA_INPUTS),
        "    - id: gha-restore",
        f"      if: {PLAN}.restore-path != ''",
        "      continue-on-error: true",
        f"      uses: {ACTIONS_CACHE.format('restore')}",
        "      with:",
        f"        path: ${{{{ {PLAN}.restore-path }}}}",
        f"        key: ${{{{ {PLAN}.restore-key }}}}",
        f"        restore-keys: ${{{{ {PLAN}.restore-key }}}}",
    ]


def gha_steps_after() -> list[str]:
    return [
        "    # type=gha: save what the build used or made, when it differs from what was restored.",
        f"    - if: {PLAN}.save-path != '' && steps.build.outputs.gha-cache-key != ''",
        "      continue-on-error: true",
        f"      uses: {ACTIONS_CACHE.format('save')}",
        "      with:",
        f"        path: ${{{{ {PLAN}.save-path }}}}",
        "        key: ${{ steps.build.outputs.gha-cache-key }}",
        f"    - if: always() && ({PLAN}.restore-path != '' || {PLAN}.save-path != '')",
        "      shell: bash",
        *_block(GHA_CLEANUP_SCRIPT),
        "      env:",
        f"        RESTORE_PATH: ${{{{ {PLAN}.restore-path }}}}",
        f"        SAVE_PATH: ${{{{ {PLAN}.save-path }}}}",
    ]


def render() -> str:
    q = json.dumps  # a JSON string is a valid YAML double-quoted scalar
    lines = [HEADER.rstrip("\n"), "inputs:"]
    for item in INPUTS:
        lines += [f"  {item.name}:", f"    description: {q(item.description)}"]
        lines.append(f"    required: {'true' if item.required else 'false'}")
        if item.default:
            lines.append(f"    default: {q(item.default)}")
    lines.append("outputs:")
    for out in OUTPUTS:
        lines += [
            f"  {out.name}:",
            f"    description: {q(out.description)}",
            f"    value: ${{{{ steps.build.outputs.{out.name} }}}}",
        ]
    lines += [
        "runs:",
        "  using: composite",
        "  steps:",
        *gha_steps_before(),
        "    - id: build",
        "      shell: bash",
        "      # exec: a cancelled run signals the step's own process only (SIGINT, then",
        "      # SIGTERM, then SIGKILL); the action must be that process, not a shell around it.",
        "      run: |",
        *(f"        {line}" if line else "" for line in RUN_SCRIPT.splitlines()),
        "      env:",
    ]
    lines += [f"        {env_name(i.name)}: ${{{{ inputs.{i.name} }}}}" for i in INPUTS]
    lines.append(
        f"        {RESTORED_KEY_ENV}: ${{{{ steps.gha-restore.outputs.cache-matched-key }}}}"
    )
    lines += gha_steps_after()
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    (ROOT / "action.yml").write_text(render(), encoding="utf-8")
