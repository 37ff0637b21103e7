"""Stopping every process of a build: real process trees, no executor needed."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from kaniko_action.process import processes_of, terminate

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
