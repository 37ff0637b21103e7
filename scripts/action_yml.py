"""Write action.yml from the input and output definitions in kaniko_action/spec/inputs.py and kaniko_action/build/outputs.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kaniko_action.build.outputs import OUTPUTS  # noqa: E402
from kaniko_action.spec.inputs import INPUTS, env_name  # noqa: E402

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
        "    - id: build",
        "      shell: bash",
        "      # exec: a cancelled run signals the step's own process only (SIGINT, then",
        "      # SIGTERM, then SIGKILL); the action must be that process, not a shell around it.",
        "      run: |",
        *(f"        {line}" if line else "" for line in RUN_SCRIPT.splitlines()),
        "      env:",
    ]
    lines += [f"        {env_name(i.name)}: ${{{{ inputs.{i.name} }}}}" for i in INPUTS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    (ROOT / "action.yml").write_text(render(), encoding="utf-8")
