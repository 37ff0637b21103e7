"""Cancellation and the build's processes, tried the way the runner really treats a step.

The step is the composite action's `run:` script run by bash as the runner runs it, and it is
cancelled the way the runner cancels: signals to that one process (SIGINT, SIGTERM 7.5 s
later, SIGKILL 2.5 s after that). Every test ends with the host as it was: no work directory,
no process of the build, no mount, nothing pushed.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kaniko_action.sandbox import nsinit
from kaniko_action.spec.paths import WORKDIR_LOCK

from .support import run_modes
from .support.action import ActionHarness
from .support.hostcheck import HostSnapshot, executor_processes, lock_is_free
from .support.registry import Registry
from .support.runner_step import RunnerStep, wait_until

pytestmark = pytest.mark.e2e

RUN_STARTED = "Running: [/bin/sh -c"


def step_for(
    harness: ActionHarness, runner_temp: Path | None = None, mode: str = run_modes.NAMESPACES
) -> RunnerStep:
    return RunnerStep(
        workspace=harness.workspace,
        runner_temp=runner_temp or harness.runner_temp,
        files=harness.runner_temp.parent / "files",
        wrapper=run_modes.wrapper(mode),
    )


def inputs(harness: ActionHarness, registry: Registry, repo: str) -> dict[str, str]:
    return {
        "tags": f"{registry.host}/{repo}:1",
        "insecure-registries": registry.host,
        "executor-dir": str(harness.executor_dir),
    }


def build_processes_gone(harness: ActionHarness) -> bool:
    return executor_processes(harness.runner_temp) == []


def assert_nothing_left(
    harness: ActionHarness, before: HostSnapshot, registry: Registry, repo: str
) -> None:
    assert list(harness.runner_temp.iterdir()) == []
    assert registry.client().tags(repo) == []
    assert before.changes() == []


# Every RUN environment, and both executors in the usual one.
EXECUTOR_MODES = [
    ("upstream", run_modes.NAMESPACES),
    ("fork", run_modes.NAMESPACES),
    ("upstream", run_modes.USER_NAMESPACE),
    ("upstream", run_modes.CHROOT),
]


@pytest.mark.parametrize(("harness", "mode"), EXECUTOR_MODES, indirect=["harness"])
def test_runner_cancel_sequence_stops_the_build(
    harness: ActionHarness, registry: Registry, busybox_image: str, mode: str
) -> None:
    """SIGINT to the step's shell process reaches the action: it stops kaniko and the RUN
    step, removes everything and exits before the runner's SIGTERM would come."""
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\nRUN setsid sleep 299 & sleep 300 & sleep 301; echo not-reached\n",
    )
    before = HostSnapshot.take(harness.workspace, harness.runner_temp)
    step = step_for(harness, mode=mode)
    step.start(**inputs(harness, registry, "e2e/cancel"))
    step.wait_for(RUN_STARTED)
    time.sleep(0.5)
    assert executor_processes(harness.runner_temp), "the build should be running"
    result = step.cancel_like_the_runner()
    print(f"cancel: step exited {result.exited_after:.2f}s after SIGINT")
    assert result.signals_sent == ["SIGINT"], step.text
    assert result.exited_after < 5, f"took {result.exited_after:.1f}s:\n{step.text}"
    assert result.returncode == 128 + signal.SIGINT, step.text
    assert "::error title=Cancelled::cancelled by signal 2" in step.text
    assert "not-reached" not in step.text.splitlines()
    assert_nothing_left(harness, before, registry, "e2e/cancel")


@pytest.mark.parametrize("mode", run_modes.MODES)
@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_sigkill_of_the_step_is_cleaned_up_by_the_guardian(
    harness: ActionHarness, registry: Registry, busybox_image: str, mode: str
) -> None:
    """A step killed outright cannot clean up; its executor dies with it (nothing is pushed)
    and the guardian stops the RUN step and removes the work directory."""
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\nRUN setsid sleep 5 & sleep 3 & sleep 4; echo slept\n"
        "RUN echo after\n",
    )
    before = HostSnapshot.take(harness.workspace, harness.runner_temp)
    step = step_for(harness, mode=mode)
    step.start(**inputs(harness, registry, "e2e/killed"))
    step.wait_for(RUN_STARTED)
    os.kill(step.pid, signal.SIGKILL)
    killed = time.monotonic()
    step.proc.wait(timeout=10)  # type: ignore[union-attr]
    assert wait_until(lambda: not list(harness.runner_temp.iterdir()), timeout=15), list(
        harness.runner_temp.iterdir()
    )
    print(f"guardian: work directory gone {time.monotonic() - killed:.2f}s after SIGKILL")
    assert wait_until(lambda: build_processes_gone(harness), timeout=5), executor_processes(
        harness.runner_temp
    )
    # Long enough for the RUN step's sleeps to have ended and a push to have happened.
    time.sleep(5)
    assert_nothing_left(harness, before, registry, "e2e/killed")


def _guardian_of(action_pid: int) -> int:
    """The guardian: the action's child in a session of its own, outside the chroot, running
    the action's own program (not the init of the build's namespaces)."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            root = os.readlink(f"/proc/{name}/root")
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        ours = int(fields[1]) == action_pid and int(fields[3]) == int(name) and root == "/"
        if ours and nsinit.BOOT.encode() not in cmdline:
            return int(name)
    raise AssertionError("no guardian found")


@pytest.mark.parametrize("mode", [run_modes.NAMESPACES, run_modes.CHROOT])
@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_a_later_run_removes_stale_work_directories_and_never_live_ones(
    harness: ActionHarness, registry: Registry, busybox_image: str, mode: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN sleep 300\n")
    harness.write("second.Dockerfile", f"FROM {busybox_image}\nRUN echo second\n")
    before = HostSnapshot.take(harness.workspace, harness.runner_temp)
    # A live work directory: a process holds its lock, as a running build does.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.path.insert(0, sys.argv[1]);"
            "from pathlib import Path; from kaniko_action.sandbox import workdirs;"
            "w = workdirs.create(Path(sys.argv[2])); print(w.path, flush=True); time.sleep(600)",
            str(Path(__file__).resolve().parents[1]),
            str(harness.runner_temp),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    live = Path(holder.stdout.readline().strip())
    (live / "root").mkdir()
    (live / "root" / "marker").write_text("live build\n")
    try:
        # A stale one: its build and its guardian were killed while a RUN step ran.
        step = step_for(harness, mode=mode)
        harness.wrapper = run_modes.wrapper(mode)
        step.start(**inputs(harness, registry, "e2e/stale"))
        step.wait_for(RUN_STARTED)
        # kaniko logs the command just before it starts it.
        assert wait_until(lambda: len(executor_processes(harness.runner_temp)) >= 2, timeout=5)
        os.kill(_guardian_of(step.pid), signal.SIGKILL)
        os.kill(step.pid, signal.SIGKILL)
        step.proc.wait(timeout=10)  # type: ignore[union-attr]
        stale = [p for p in harness.runner_temp.iterdir() if p != live]
        assert len(stale) == 1 and stale[0].name.startswith("kaniko-build-"), stale
        if run_modes.namespaced(mode):
            # The RUN step ended with its PID namespace, whose init died with the action.
            assert wait_until(lambda: executor_processes(harness.runner_temp) == [], timeout=5)
        else:
            # The RUN step outlived its build: it is nobody's child any more.
            assert wait_until(lambda: executor_processes(harness.runner_temp) != [], timeout=2)

        second = harness.run(file="second.Dockerfile", **inputs(harness, registry, "e2e/second"))
        assert second.returncode == 0, second.stdout
        assert not stale[0].exists()
        assert executor_processes(harness.runner_temp) == []
        assert (live / "root" / "marker").read_text() == "live build\n"
    finally:
        holder.kill()
        holder.wait()
    # With its owner gone, the directory is stale: the next run removes it.
    third = harness.run(file="second.Dockerfile", **inputs(harness, registry, "e2e/third"))
    assert third.returncode == 0, third.stdout
    assert list(harness.runner_temp.iterdir()) == []
    assert registry.client().tags("e2e/stale") == []
    assert before.changes() == []


@pytest.mark.parametrize("harness", ["upstream", "fork"], indirect=True)
def test_a_detached_process_holding_the_output_does_not_hold_the_action(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    """A RUN step leaves a process in a session of its own that keeps kaniko's stdout open;
    the action ends when kaniko does, and stops that process."""
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\nRUN setsid sh -c 'sleep 600; echo late' &\nRUN echo built\n",
    )
    started = time.monotonic()
    harness.timeout = 60
    run = harness.run(**inputs(harness, registry, "e2e/detached"))
    took = time.monotonic() - started
    print(f"detached process: action took {took:.2f}s")
    assert run.returncode == 0, run.stdout
    assert took < 30, f"{took:.1f}s"
    assert registry.client().tags("e2e/detached") == ["1"]
    assert run.host_changes == []
    assert list(harness.runner_temp.iterdir()) == []


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_signals_during_clean_up_do_not_cut_it_short(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    """A storm of SIGINT and SIGTERM while a large sandbox is being removed: everything goes."""
    for i in range(3000):
        harness.write(f"ctx/d{i % 30}/f{i}.txt", f"{i}\n")
    harness.write("ctx/Dockerfile", f"FROM {busybox_image}\nCOPY . /ctx\nRUN sleep 300\n")
    before = HostSnapshot.take(harness.workspace, harness.runner_temp)
    step = step_for(harness)
    step.start(context="ctx", **inputs(harness, registry, "e2e/storm"))
    step.wait_for("Running: [/bin/sh -c sleep 300]")
    deadline = time.monotonic() + 3
    count = 0
    assert step.proc is not None
    while step.proc.poll() is None and time.monotonic() < deadline:
        os.kill(step.pid, signal.SIGTERM if count % 2 else signal.SIGINT)
        count += 1
        time.sleep(0.005)
    assert step.finish(timeout=60) in (128 + signal.SIGINT, 128 + signal.SIGTERM), step.text
    assert count > 1
    assert "Traceback" not in step.text
    assert_nothing_left(harness, before, registry, "e2e/storm")


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_a_run_step_forking_in_a_loop_and_ignoring_sigterm_is_stopped(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\n"
        "RUN trap '' TERM; i=0; while [ $i -lt 400 ]; do "
        "sh -c \"trap '' TERM; sleep 600\" & i=$((i+1)); sleep 0.01; done; "
        "echo forked-all; sleep 600\n",
    )
    before = HostSnapshot.take(harness.workspace, harness.runner_temp)
    step = step_for(harness)
    step.start(**inputs(harness, registry, "e2e/forks"))
    step.wait_for(RUN_STARTED)
    time.sleep(1.5)
    assert len(executor_processes(harness.runner_temp)) > 20
    result = step.cancel_like_the_runner()
    print(
        f"fork loop: {len(executor_processes(harness.runner_temp))} left, exited {result.exited_after:.2f}s"
    )
    assert result.signals_sent == ["SIGINT"], step.text
    assert result.exited_after < 7, f"{result.exited_after:.1f}s"
    assert_nothing_left(harness, before, registry, "e2e/forks")


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_runner_temp_reached_through_a_symlink(
    harness: ActionHarness, registry: Registry, busybox_image: str, tmp_path: Path
) -> None:
    """The process and mount checks see the real path: leftovers are still found. In the
    plain chroot on a runner with every capability (namespaces refused by seccomp), a RUN step
    can mount in the runner's own mount namespace: the teardown detaches it."""
    linked = tmp_path / "temp-link"
    linked.symlink_to(harness.runner_temp)
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\nRUN setsid sleep 600 > /dev/null 2>&1 < /dev/null &\n"
        "RUN mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo mounted\n",
    )
    harness.extra_env["RUNNER_TEMP"] = str(linked)
    harness.wrapper = run_modes.wrapper(run_modes.REFUSED)
    run = harness.run(push="false")
    assert run.returncode == 0, run.stdout
    assert run_modes.log_line_start(run_modes.REFUSED) in run.stdout
    assert "mounted" in run.stdout
    assert run.host_changes == []
    assert list(harness.runner_temp.iterdir()) == []


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_work_directory_lock_is_held_for_the_whole_build(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    """While a build runs, its work directory cannot be taken for stale by another run."""
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN sleep 300\n")
    step = step_for(harness)
    step.start(**inputs(harness, registry, "e2e/locked"))
    step.wait_for(RUN_STARTED)
    (workdir,) = list(harness.runner_temp.iterdir())
    assert not lock_is_free(workdir)
    fd = os.open(workdir / WORKDIR_LOCK, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    step.cancel_like_the_runner()
    assert list(harness.runner_temp.iterdir()) == []
