"""The action's entry: become root first, importing only what that needs (the re-run through
sudo imports the rest once), then run the build from the INPUT_* variables. With the argument
`gha-cache` it is the step before the build that plans the GitHub Actions cache's restore and
save, as the job user (workflow/gha_cache.py)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from .errors import ActionError
from .sandbox.privileges import ensure_root, sudo_parent


def main(script: str, argv: Sequence[str]) -> int:
    if list(argv) == ["gha-cache"]:
        from .workflow.gha_cache import plan_step

        return plan_step(os.environ)
    try:
        ensure_root(script, argv)
    except ActionError as e:
        from .workflow.commands import Workflow
        from .workflow.job_container import explained

        Workflow(os.environ).error(explained(e, os.environ), title=e.title)
        return 1
    parent = sudo_parent()
    if parent is not None:
        from .cancellation import follow_parent

        follow_parent(parent)
    from .build.run import run

    return run(os.environ)
