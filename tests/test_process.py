"""Stopping every process of a build: real process trees, no executor needed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from kaniko_action.cancellation import cancellation
from kaniko_action.errors import Cancelled
from kaniko_action.executor import process
from kaniko_action.executor.argv import Invocation
from kaniko_action.executor.process import run_in_chroot
from kaniko_action.sandbox.processes import processes_of, terminate

FORK_LOOP = "trap '' TERM; while :; do sh -c \"trap '' TERM; sleep 600\" & sleep 0.005; done"


def test_a_session_forking_in_a_loop_with_sigterm_ignored_is_stopped_whole(tmp_path: Path) -> None:
    leader = subprocess.Popen(["sh", "-c", FORK_LOOP], start_new_session=True)
    try:
        time.sleep(1.0)
        assert len(processes_of(leader.pid, tmp_path / "no-chroot")) > 20
        started = time.monotonic()
        terminate(leader.pid, tmp_path / "no-chroot", grace=0.2)
        took = time.monotonic() - started
        assert processes_of(leader.pid, tmp_path / "no-chroot") == []
        assert took < 15
    finally:
        leader.kill()
        leader.wait()


def test_processes_are_matched_by_session_or_by_root_directory(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        assert proc.pid in processes_of(proc.pid, root)
        assert proc.pid not in processes_of(None, root)
        assert proc.pid in processes_of(None, Path("/"))
    finally:
        proc.kill()
        proc.wait()


def test_terminate_returns_at_once_when_nothing_is_left(tmp_path: Path) -> None:
    started = time.monotonic()
    terminate(None, tmp_path / "nothing")
    assert time.monotonic() - started < 1
    assert os.getpid() not in processes_of(None, Path("/"))


def _busybox_root(tmp_path: Path) -> Path:
    """A minimal real chroot: a static busybox as /bin/sh and /bin/sleep."""
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    for applet in ("sh", "sleep"):
        (root / "bin" / applet).symlink_to("busybox")
    return root


def test_a_signal_right_after_the_executor_starts_still_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gap between starting the executor and watching it is shielded: a cancellation that
    lands there is raised only once the process is registered, and the process is stopped."""
    root = _busybox_root(tmp_path)
    spawned: list[int] = []
    original = process.spawn_in_chroot

    def spawn_then_signal(chroot: Path, invocation: Invocation) -> subprocess.Popen[bytes]:
        proc = original(chroot, invocation)
        spawned.append(proc.pid)
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10000):
            pass
        return proc

    monkeypatch.setattr(process, "spawn_in_chroot", spawn_then_signal)
    invocation = Invocation(("/bin/sh", "-c", "sleep 600 & sleep 601"), {"PATH": "/bin"})
    with cancellation() as cancel, pytest.raises(Cancelled):
        run_in_chroot(root, invocation, lambda lines: None, cancel)
    assert spawned
    assert processes_of(spawned[0], root) == []
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def test_output_of_a_chrooted_process_arrives_in_batches_of_lines(tmp_path: Path) -> None:
    root = _busybox_root(tmp_path)
    batches: list[list[str]] = []
    invocation = Invocation(
        ("/bin/sh", "-c", "echo one; printf 'two\\r\\nthree'; exit 3"), {"PATH": "/bin"}
    )
    with cancellation() as cancel:
        status = run_in_chroot(root, invocation, batches.append, cancel)
    assert status == 3
    assert [line for batch in batches for line in batch] == ["one", "two", "three"]
