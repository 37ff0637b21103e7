"""End to end: a work directory is always taken down whole, secrets first, however deep the
tree a build leaves in it: one the repository commits (`COPY . /app`), deeper than Python's
recursion limit, and one a RUN step makes with `mkdir` in a loop, deeper than that and than
PATH_MAX too."""

from __future__ import annotations

import os
import sys

import pytest

from kaniko_action.utils.fs import remove_tree

from .support.action import ActionHarness, ActionRun
from .support.hostcheck import files_holding
from .support.registry import Registry
from .test_e2e_build import assert_clean
from .test_fsutil import deep_tree

pytestmark = pytest.mark.e2e

SECRET = "deep-Tree-Secret-6Rt"
# Deeper than Python's recursion limit; with `eee/` per level, longer than PATH_MAX.
DEPTH = sys.getrecursionlimit() + 50
COPIES = """\
FROM {base}
COPY . /app
RUN --mount=type=secret,id=token test -s /run/secrets/token && ls /app/tree > /listed
"""
# kaniko cannot snapshot a tree longer than PATH_MAX: the RUN step fails after making it,
# leaving it in the chroot for the clean-up.
MAKES = f"""\
FROM {{base}}
RUN --mount=type=secret,id=token cat /run/secrets/token > /dev/null \\
 && i=0 && while [ $i -lt {DEPTH} ]; do mkdir eee && cd eee; i=$((i+1)); done \\
 && echo made > leaf && exit 3
"""


def build(harness: ActionHarness, registry: Registry, dockerfile: str, tree: int = 0) -> ActionRun:
    harness.write("Dockerfile", dockerfile)
    if tree:
        deep_tree(harness.workspace / "tree", DEPTH, name="d" * tree)
        os.chmod(harness.workspace / "tree", 0o755)
    try:
        run = harness.run(
            tags=f"{registry.host}/e2e/deep:1",
            push="false",
            secrets=f"token={SECRET}",
            insecure_registries=registry.host,
        )
    finally:
        # pytest's own clean-up of tmp_path recurses, and gives up on such a tree.
        remove_tree(harness.workspace / "tree")
    assert list(harness.runner_temp.iterdir()) == [], run.stdout
    assert files_holding(harness.runner_temp, [SECRET]) == []
    assert_clean(run)
    return run


@pytest.mark.slow  # kaniko takes some 50 s to copy and snapshot such a tree
@pytest.mark.parametrize("harness", ["fork"], indirect=True)
def test_a_deep_tree_from_the_repository_builds_and_goes(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    run = build(harness, registry, COPIES.format(base=busybox_image), tree=1)
    assert run.returncode == 0, run.stdout


@pytest.mark.parametrize("harness", ["fork"], indirect=True)
def test_a_tree_longer_than_path_max_made_by_a_run_step_goes_with_the_secrets(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    assert len("eee/") * DEPTH > os.pathconf("/", "PC_PATH_MAX")
    run = build(harness, registry, MAKES.format(base=busybox_image))
    assert run.returncode == 1, run.stdout
    assert "exit status 3" in run.stdout


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_a_context_path_longer_than_path_max_is_refused_and_leaves_nothing(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    run = build(harness, registry, COPIES.format(base=busybox_image), tree=4)
    assert run.returncode == 1, run.stdout
    (error,) = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert "input 'context': a path in the build context is longer than this system allows" in error
    assert len(error) < 400


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_the_next_run_reaps_a_work_directory_without_its_lock_file(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    """A work directory whose removal was cut short after its lock file went (as removal
    that died used to leave them) belongs to nobody: the next build takes it down."""
    left = harness.runner_temp / "kaniko-build-abc123"
    (left / "root" / ".kaniko-build" / "secret-src").mkdir(parents=True)
    (left / "root" / ".kaniko-build" / "secret-src" / "0").write_text(SECRET)
    os.chmod(left, 0o700)
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN echo fine\n")
    run = harness.run(push="false", tags=f"{registry.host}/e2e/reap:1")
    assert run.returncode == 0, run.stdout
    assert not left.exists()
    assert list(harness.runner_temp.iterdir()) == []
    assert files_holding(harness.runner_temp, [SECRET]) == []
