"""Telling a job container from the runner, and what a user whose job container lacks a
piece of the action's needs is told (kaniko_action/workflow/job_container.py)."""

from __future__ import annotations

import pytest

from kaniko_action.errors import InputError, RunnerLacks
from kaniko_action.sandbox.privileges import PrivilegeError
from kaniko_action.workflow.job_container import ACT, DOCKER, KUBERNETES, explained, job_container

RUNNER = {
    "GITHUB_WORKSPACE": "/home/runner/_work/app/app",
    "RUNNER_TEMP": "/home/runner/_work/_temp",
}
CONTAINER = {"GITHUB_WORKSPACE": "/__w/app/app", "RUNNER_TEMP": "/__w/_temp"}
POD = {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}


def has_externals(path: str) -> bool:
    return path == "/__e"


@pytest.mark.parametrize(
    ("env", "externals", "kind"),
    [
        (RUNNER, False, None),
        ({**RUNNER, **POD}, False, None),  # a runner pod outside kubernetes mode
        (CONTAINER, True, DOCKER),
        ({**CONTAINER, **POD}, True, KUBERNETES),
        (CONTAINER, False, None),  # a repository that merely lives under /__w
        ({"ACT": "true", "GITHUB_OUTPUT": "/var/run/act/workflow/outputcmd.txt"}, False, ACT),
        ({"ACT": "true", "GITHUB_OUTPUT": "/root/.cache/act/abc/outputcmd.txt"}, False, None),
    ],
)  # fmt: skip
def test_job_container_is_told_from_the_runner(
    env: dict[str, str], externals: bool, kind: str | None
) -> None:
    assert job_container(env, lambda path: externals and path == "/__e") == kind


def test_a_missing_piece_in_a_docker_job_container_says_which_image_and_options() -> None:
    text = explained(RunnerLacks("the runner lacks the MKNOD capability"), CONTAINER, has_externals)
    assert text.startswith("the runner lacks the MKNOD capability. this job has `container:`")
    assert "runner image built from kaniko-build's Dockerfile" in text
    assert "`options: --cap-add SYS_CHROOT --cap-add MKNOD`" in text


def test_kubernetes_mode_points_at_the_hook_template() -> None:
    text = explained(PrivilegeError("kaniko-build needs root"), {**CONTAINER, **POD}, has_externals)
    assert "kubernetes mode every step" in text
    assert "ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE" in text
    assert "securityContext.capabilities.add: [SYS_CHROOT, MKNOD]" in text


def test_other_errors_and_the_runner_itself_get_no_advice() -> None:
    assert explained(InputError("push", "bad"), CONTAINER, has_externals) == "input 'push': bad"
    assert (
        explained(RunnerLacks("no kaniko executor"), RUNNER, has_externals) == "no kaniko executor"
    )
