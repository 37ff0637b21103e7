"""Work directories: locked for their life, stale only when no live process holds them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kaniko_action.cancellation import CancelState, cancellation
from kaniko_action.errors import Cancelled
from kaniko_action.sandbox import guardian, workdirs
from kaniko_action.sandbox.chroot import Sandbox
from kaniko_action.spec.paths import NEW_WORKDIR_PREFIX, WORKDIR_PREFIX

from .support.hostcheck import lock_is_free

ROOT = Path(__file__).resolve().parents[1]


def _holder(base: Path, extra: str = "") -> tuple[subprocess.Popen[str], Path]:
    """A process that owns a work directory (and maybe more) until it is killed."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.path.insert(0, sys.argv[1]);"
            "from pathlib import Path; from kaniko_action.sandbox import workdirs, guardian;"
            "w = workdirs.create(Path(sys.argv[2]));"
            "(w.path / 'root').mkdir(); (w.path / 'root' / 'f').write_text('x');"
            f"{extra}"
            "print(w.path, flush=True); time.sleep(600)",
            str(ROOT),
            str(base),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


def test_a_new_work_directory_is_private_and_locked(tmp_path: Path) -> None:
    work = workdirs.create(tmp_path)
    try:
        assert work.path.name.startswith(WORKDIR_PREFIX)
        assert os.stat(work.path).st_mode & 0o777 == 0o700
        assert not lock_is_free(work.path)
        assert [p.name for p in tmp_path.iterdir()] == [work.path.name]
    finally:
        work.release()
    assert lock_is_free(work.path)


def test_only_directories_whose_owner_died_are_reaped(tmp_path: Path) -> None:
    live, live_dir = _holder(tmp_path)
    dead, dead_dir = _holder(tmp_path)
    unrelated = tmp_path / "kaniko-build-not-ours.txt"
    unrelated.write_text("a file, not a work directory\n")
    other = tmp_path / "someone-elses-dir"
    other.mkdir()
    try:
        dead.kill()
        dead.wait()
        cleaned: list[Path] = []
        removed = workdirs.reap(tmp_path, cleaned.append)
        assert removed == cleaned == [dead_dir]
        assert workdirs.reap(tmp_path, lambda p: None) == [dead_dir]  # still there: a no-op clean
    finally:
        live.kill()
        live.wait()
    assert sorted(p.name for p in workdirs.reap(tmp_path, lambda p: None)) == sorted(
        [live_dir.name, dead_dir.name]
    )
    assert unrelated.exists() and other.exists()


def test_a_never_locked_directory_is_reaped_only_when_old(tmp_path: Path) -> None:
    young = tmp_path / (NEW_WORKDIR_PREFIX + "young")
    young.mkdir()
    assert workdirs.reap(tmp_path, lambda p: None) == []
    later = time.time() + workdirs.UNLOCKED_GRACE_SECONDS + 1
    assert workdirs.reap(tmp_path, lambda p: None, now=later) == [young]


def test_the_guardian_removes_the_work_directory_of_a_killed_owner(tmp_path: Path) -> None:
    owner, path = _holder(tmp_path, "g = guardian.start(w.path, keep_fds=(w.lock_fd,));")
    assert (path / "root" / "f").exists()
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 10
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_dismissed_guardian_leaves_the_directory_to_its_owner(tmp_path: Path) -> None:
    work = workdirs.create(tmp_path)
    keeper = guardian.start(work.path, keep_fds=(work.lock_fd,))
    keeper.dismiss()
    assert work.path.exists()
    # The guardian is gone and was reaped.
    assert not Path(f"/proc/{keeper.pid}").exists()
    work.release()
    assert workdirs.reap(tmp_path, lambda p: None) == [work.path]


def test_a_signal_while_the_sandbox_is_created_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = guardian.start

    def start_then_signal(workdir: Path, keep_fds: tuple[int, ...] = ()) -> guardian.Guardian:
        started = original(workdir, keep_fds)
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(10000):
            pass
        return started

    monkeypatch.setattr(guardian, "start", start_then_signal)
    entered: list[Path] = []

    def build(cancel: CancelState) -> None:
        with Sandbox(tmp_path, cancel) as sandbox:
            entered.append(sandbox.root)

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        with cancellation() as cancel, pytest.raises(Cancelled):
            build(cancel)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    assert entered == []
    assert list(tmp_path.iterdir()) == []


def test_work_directories_go_to_work_dir_when_given_else_runner_temp(tmp_path: Path) -> None:
    temp, fast = tmp_path / "temp", tmp_path / "fast"
    temp.mkdir()
    fast.mkdir()
    (tmp_path / "temp-link").symlink_to(temp)
    env = {"RUNNER_TEMP": str(tmp_path / "temp-link")}
    assert workdirs.work_base(env) == temp
    assert workdirs.work_base(env, fast) == fast
    # Stale work directories are looked for in both: a run killed without work-dir left its
    # own in RUNNER_TEMP.
    assert workdirs.swept_bases(env, None) == ()
    assert workdirs.swept_bases(env, fast) == (temp,)
    assert workdirs.swept_bases(env, temp) == ()


def test_the_sandbox_reaps_stale_directories_in_every_base_and_leaves_the_bases(
    tmp_path: Path,
) -> None:
    temp, fast = tmp_path / "temp", tmp_path / "fast"
    temp.mkdir()
    fast.mkdir()
    (fast / "kept.txt").write_text("the user's\n")
    stale = []
    for base in (temp, fast):
        dead, path = _holder(base)
        dead.kill()
        dead.wait()
        stale.append(path)
    with Sandbox(fast, CancelState(), also_reap=(temp,)) as sandbox:
        assert sorted(sandbox.reaped) == sorted(stale)
        assert sandbox.root.parent.parent == fast
    assert [p.name for p in fast.iterdir()] == ["kept.txt"]
    assert list(temp.iterdir()) == []
