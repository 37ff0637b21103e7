"""Whether the step runs in the job's container rather than on the runner, and what to tell
the user when that container lacks something the action needs. Pure, but for one lookup.

A `container:` job runs every step, a composite action's included, inside the job's
container: on a runner with Docker (the runner mounts its work directory at `/__w` and its
externals at `/__e`), in actions-runner-controller's kubernetes mode (runner-container-hooks
run each step with `kubectl exec` in the job's pod, with the same mounts) and under act
(whose file-command files are under /var/run/act/). There the action runs in the user's
image: /kaniko, python3, sudo and the capabilities are that image's and that container's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from ..errors import ActionError

KUBERNETES = "kubernetes"
DOCKER = "docker"
ACT = "act"
CAPABILITIES = ("SYS_CHROOT", "MKNOD")


def job_container(
    env: Mapping[str, str], exists: Callable[[str], bool] | None = None
) -> str | None:
    """KUBERNETES, DOCKER or ACT when the step runs in a job container; else None.
    `exists`: os.path.exists, or a stand-in for it."""
    exists = exists or os.path.exists
    if env.get("ACT") == "true" and env.get("GITHUB_OUTPUT", "").startswith("/var/run/act/"):
        return ACT
    if env.get("GITHUB_WORKSPACE", "").startswith("/__w/") and exists("/__e"):
        # Every pod has the variable; a runner pod outside kubernetes mode has no /__w.
        return KUBERNETES if env.get("KUBERNETES_SERVICE_HOST") else DOCKER
    return None


def advice(kind: str) -> str:
    """What a user whose job container lacks a piece of the action's needs is told."""
    caps = ", ".join(CAPABILITIES)
    where = (
        "in actions-runner-controller's kubernetes mode every step, this one included, runs "
        "in the job's container (`container:` in the workflow)"
        if kind == KUBERNETES
        else "this job has `container:`, so every step, this one included, runs in that container"
    )
    give = (
        "in the pod template of ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE, give the container "
        f"named $job securityContext.capabilities.add: [{caps}] (deploy/README.md has one)"
        if kind == KUBERNETES
        else "give it the capabilities with `options: "
        + " ".join(f"--cap-add {c}" for c in CAPABILITIES)
        + "` under `container:`"
    )
    return (
        f"{where}, not on the runner. Use as the job's container an image that has what "
        "kaniko-build needs: the runner image built from kaniko-build's Dockerfile has "
        f"/kaniko, python3 and sudo; run it as root or as `runner`, and {give}"
    )


def explained(
    error: ActionError, env: Mapping[str, str], exists: Callable[[str], bool] | None = None
) -> str:
    """The error's message, with the job-container advice when it names a piece the
    machine lacks and the step runs in a job container."""
    message = str(error)
    if not error.lacks_on_runner:
        return message
    kind = job_container(env, exists)
    return message if kind is None else f"{message}. {advice(kind)}"
