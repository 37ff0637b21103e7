"""End to end: the `work-dir` input puts each build's work directory (the chroot) in a directory
of the job's choosing instead of RUNNER_TEMP, sweeps stale work directories there too, checks
its room first, and leaves the directory itself as it found it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kaniko_action.spec.paths import WORKDIR_PREFIX

from .support.action import ActionHarness, parse_file_command
from .support.hostcheck import HostSnapshot
from .support.registry import Registry
from .test_e2e_preflight import in_namespace_with_tmpfs

pytestmark = pytest.mark.e2e


def work_directories(base: Path) -> set[str]:
    try:
        return {name for name in os.listdir(base) if name.startswith(WORKDIR_PREFIX)}
    except FileNotFoundError:
        return set()


def test_the_chroot_is_made_in_work_dir_and_only_it_goes(
    harness: ActionHarness, registry: Registry, busybox_image: str, tmp_path: Path
) -> None:
    fast = tmp_path / "fast"
    fast.mkdir()
    (fast / "keep.txt").write_text("the job's own\n")
    # Left by builds killed with their guardian, with and without work-dir.
    stale = [fast / f"{WORKDIR_PREFIX}stale", harness.runner_temp / f"{WORKDIR_PREFIX}stale"]
    for path in stale:
        (path / "root" / "etc").mkdir(parents=True)
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN sleep 1 && echo fast > /where\n")
    before = [HostSnapshot.take(harness.workspace, b) for b in (fast, harness.runner_temp)]
    files = harness.runner_temp.parent / "files"
    files.mkdir(exist_ok=True)
    (files / "output").write_text("")
    proc = harness.start(
        tags=f"{registry.host}/e2e/work-dir:1",
        insecure_registries=registry.host,
        work_dir=str(fast),
    )
    seen_fast: set[str] = set()
    seen_temp: set[str] = set()
    while proc.poll() is None:
        seen_fast |= work_directories(fast)
        seen_temp |= work_directories(harness.runner_temp)
        time.sleep(0.01)
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    assert proc.returncode == 0, stdout
    outputs = parse_file_command((files / "output").read_text())
    assert outputs["digest"] == registry.client().get_manifest("e2e/work-dir", "1").digest
    assert registry.client().image_files("e2e/work-dir", "1")["where"].text == "fast\n"
    # This build's work directory was in work-dir; RUNNER_TEMP only ever held the stale one.
    assert seen_fast - {stale[0].name}
    assert seen_temp == {stale[1].name}
    # Both stale directories were swept; work-dir itself and what was in it stay.
    assert [p.name for p in fast.iterdir()] == ["keep.txt"]
    assert (fast / "keep.txt").read_text() == "the job's own\n"
    assert list(harness.runner_temp.iterdir()) == []
    for snapshot, gone in zip(before, stale):
        assert snapshot.changes() == [f"removed: {gone}"]


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_too_little_room_in_work_dir_names_the_input(
    harness: ActionHarness, busybox_image: str, tmp_path: Path
) -> None:
    fast = tmp_path / "fast"
    fast.mkdir()
    harness.write("Dockerfile", f"FROM {busybox_image}\n")
    harness.wrapper = in_namespace_with_tmpfs(fast, "size=48m")
    run = harness.run(push="false", work_dir=str(fast))
    assert run.returncode == 1, run.stdout
    assert f"not enough free space in {fast} (input 'work-dir')" in run.stdout
    assert "sizeLimit" in run.stdout
    assert "Traceback" not in run.stdout
    assert list(harness.runner_temp.iterdir()) == []
    assert run.host_changes == []


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_work_dir_inside_the_workspace_is_refused_before_anything(
    harness: ActionHarness, busybox_image: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\n")
    (harness.workspace / "build").mkdir()
    run = harness.run(push="false", work_dir="build")
    assert run.returncode == 1, run.stdout
    assert "::error title=Invalid input::input 'work-dir': 'build' is inside the workspace" in (
        run.stdout
    )
    assert list((harness.workspace / "build").iterdir()) == []
    assert list(harness.runner_temp.iterdir()) == []
    assert run.host_changes == []
