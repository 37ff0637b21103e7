"""The build's namespaces (sandbox/nsinit.py, sandbox/namespaces.py) with real processes in a
busybox chroot laid out as the sandbox lays out /dev: what RUN steps see, what they cannot
see or do, how the runner's capabilities decide the mode, the fall-back when the set-up
fails, and that nothing outlives the build when it ends, is cancelled or its action killed.
No executor needed: the command run stands in for it."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaniko_action.cancellation import cancellation
from kaniko_action.errors import Cancelled
from kaniko_action.executor.argv import Invocation
from kaniko_action.executor.process import run_in_chroot
from kaniko_action.sandbox import nsinit
from kaniko_action.sandbox.chroot import DEVICES, NAMESPACE_DIRS, NAMESPACE_LINKS, SHM_DIR
from kaniko_action.sandbox.namespaces import (
    CHROOT,
    NAMESPACES,
    USER_NAMESPACE,
    RunEnvironment,
)
from kaniko_action.sandbox.processes import processes_of
from kaniko_action.utils.fs import remove_tree

from .support import run_modes
from .support.hostcheck import mounts_below
from .support.runner_step import wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and chroot need root")

REPO = Path(__file__).resolve().parents[1]
APPLETS = ("sh", "cat", "grep", "ls", "ps", "readlink", "sleep", "wc", "mount", "hostname")
IN_NAMESPACES = RunEnvironment(NAMESPACES)


@pytest.fixture(autouse=True)
def _no_device_nodes_left(tmp_path: Path) -> Iterator[None]:
    """busybox_root makes real device nodes: the chroot goes with the test, not with pytest's
    rotation of old temporary directories."""
    yield
    root = tmp_path / "root"
    if os.path.lexists(root):
        remove_tree(root)


def busybox_root(tmp_path: Path, proc: bool = True) -> Path:
    """A chroot with busybox and /dev as the sandbox makes it for RUN steps in namespaces."""
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    if proc:
        (root / "proc").mkdir()
    dev = root / "dev"
    dev.mkdir()
    for name, major, minor, mode in DEVICES:
        os.mknod(dev / name, mode | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(dev / name, mode)
    for name, mode in (SHM_DIR, *NAMESPACE_DIRS):
        (dev / name).mkdir()
        os.chmod(dev / name, mode)
    for name, target in NAMESPACE_LINKS:
        os.symlink(target, dev / name)
    return root


def run(
    root: Path, script: str, environment: RunEnvironment | None = IN_NAMESPACES
) -> tuple[int, list[str], list[str]]:
    """(exit status, output lines, fall-back reasons) of `sh -c script` in the chroot."""
    lines: list[str] = []
    fallbacks: list[str] = []
    invocation = Invocation(("/bin/sh", "-c", script), {"PATH": "/bin"})
    with cancellation() as cancel:
        status = run_in_chroot(
            root, invocation, lines.extend, cancel, environment=environment,
            on_fallback=fallbacks.append,
        )  # fmt: skip
    return status, lines, fallbacks


def assert_nothing_left(root: Path) -> None:
    assert processes_of(None, root) == []
    assert mounts_below([root]) == []


def test_the_command_is_the_child_of_an_init_in_a_process_tree_of_its_own(
    tmp_path: Path,
) -> None:
    root = busybox_root(tmp_path)
    status, lines, fallbacks = run(
        root,
        "echo pid=$$; grep ^NSpid /proc/self/status; readlink /proc/self/exe;"
        " cat /dev/fd/0 </dev/null && echo fd0-ok; ps | grep -c .;"
        " tr '\\0' ' ' </proc/1/cmdline; echo;"
        " (sleep 0.2 &); sleep 0.6; echo zombies=$(grep -l '^State:.Z' /proc/[0-9]*/status | wc -l);"
        " setsid sleep 600 </dev/null >/dev/null 2>&1 & exit 7",
    )
    print("\n".join(lines))
    assert fallbacks == []
    assert status == 7
    assert "pid=2" in lines
    assert "/bin/busybox" in lines
    assert "fd0-ok" in lines
    # ps: its header, init, sh, ps and the subshell of the pipe: nothing of the runner.
    assert int(lines[lines.index("fd0-ok") + 1]) <= 6
    assert f"-I -S -c {nsinit.BOOT}" in lines[lines.index("fd0-ok") + 2]
    assert "zombies=0" in lines
    # The session left behind went with the PID namespace.
    assert_nothing_left(root)


def test_run_steps_get_what_docker_gives_and_no_more(tmp_path: Path) -> None:
    root = busybox_root(tmp_path)
    status, lines, _ = run(
        root,
        "grep ' /dev/shm ' /proc/mounts; grep -E '^Cap(Eff|Bnd)' /proc/self/status;"
        " echo x > /proc/sys/kernel/hostname || echo sysctl-refused;"
        " for f in /proc/keys /proc/timer_list /proc/kcore; do"
        "   [ -e $f ] && echo masked $f $(wc -c < $f); done;"
        " mkdir -p /mnt && mount -t tmpfs none /mnt || echo mount-refused;"
        " hostname elsewhere || echo hostname-refused;"
        " cat /proc/1/maps > /dev/null || echo maps-refused",
        RunEnvironment(NAMESPACES, shm_bytes=8 << 20),
    )
    text = "\n".join(lines)
    print(text)
    assert status == 0
    assert "size=8192k" in text
    docker = sum(1 << c for c in nsinit.DOCKER_CAPABILITIES)
    assert f"CapBnd:\t{docker:016x}" in lines
    assert f"CapEff:\t{docker:016x}" in lines
    for refused in ("sysctl-refused", "mount-refused", "hostname-refused"):
        assert refused in lines
    masked = [line.split() for line in lines if line.startswith("masked ")]
    assert masked and all(size == "0" for _, _, size in masked), masked
    assert "maps-refused" in lines
    assert_nothing_left(root)


def test_nothing_of_the_action_is_visible_through_proc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The init starts with an empty environment and takes its configuration on stdin: a
    variable of the action is nowhere under the build's /proc (the command gets only what
    it is given)."""
    marker = "kaniko-build-test-marker-7f3a"
    monkeypatch.setenv("KANIKO_BUILD_TEST_MARKER", marker)
    root = busybox_root(tmp_path)
    # From a file: on grep's command line the marker would be found in grep's cmdline.
    (root / "pattern").write_text(marker + "\n")
    status, lines, _ = run(
        root,
        "grep -s -l -f /pattern /proc/[0-9]*/environ /proc/[0-9]*/cmdline; echo searched;"
        " grep -s -c . /proc/1/environ || echo environ-unreadable",
    )
    print("\n".join(lines))
    assert status == 0
    assert lines[0] == "searched", lines  # no file named
    assert lines[1] in ("0", "environ-unreadable")


def test_a_status_by_signal_is_told_as_the_shell_tells_it(tmp_path: Path) -> None:
    status, _, _ = run(busybox_root(tmp_path), "kill -9 $$")
    assert status == 128 + signal.SIGKILL


def test_a_set_up_that_fails_runs_the_command_in_the_plain_chroot(tmp_path: Path) -> None:
    """Nothing has run when the init gives up: the command then runs chrooted as before."""
    root = busybox_root(tmp_path, proc=False)
    status, lines, fallbacks = run(root, "echo ran; ls /proc || echo no-proc")
    assert status == 0
    assert lines == ["ran", "ls: /proc: No such file or directory", "no-proc"]
    (reason,) = fallbacks
    assert "proc" in reason and "No such file or directory" in reason
    assert_nothing_left(root)


def test_cancelling_stops_everything_in_the_namespace(tmp_path: Path) -> None:
    root = busybox_root(tmp_path)
    invocation = Invocation(
        ("/bin/sh", "-c", "trap '' TERM; setsid sleep 600 & sleep 601 & echo started; sleep 602"),
        {"PATH": "/bin"},
    )

    def on_lines(lines: list[str]) -> None:
        if "started" in lines:
            os.kill(os.getpid(), signal.SIGINT)

    started = time.monotonic()
    with cancellation() as cancel, pytest.raises(Cancelled):
        run_in_chroot(root, invocation, on_lines, cancel, environment=IN_NAMESPACES)
    took = time.monotonic() - started
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    assert took < 5, took
    assert_nothing_left(root)


ACTION = """
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from kaniko_action.cancellation import cancellation
from kaniko_action.executor.argv import Invocation
from kaniko_action.executor.process import run_in_chroot
from kaniko_action.sandbox.namespaces import RunEnvironment
script = "setsid sleep 600 & sleep 601 & echo started; sleep 602"
with cancellation() as cancel:
    run_in_chroot(Path(sys.argv[2]), Invocation(("/bin/sh", "-c", script), {"PATH": "/bin"}),
                  lambda lines: print(*lines, flush=True), cancel,
                  environment=RunEnvironment("namespaces"))
"""


def test_a_killed_action_takes_the_whole_namespace_with_it(tmp_path: Path) -> None:
    """SIGKILL to the action: the init dies with it, and the kernel ends every process of the
    PID namespace, the one in a session of its own included (no guardian needed)."""
    root = busybox_root(tmp_path)
    action = subprocess.Popen(
        [sys.executable, "-c", ACTION, str(REPO), str(root)], stdout=subprocess.PIPE, text=True
    )
    assert action.stdout is not None
    assert action.stdout.readline().strip() == "started"
    assert len(processes_of(None, root)) >= 4  # init, sh, three sleeps
    action.kill()
    action.wait()
    assert wait_until(lambda: processes_of(None, root) == [], timeout=5), processes_of(None, root)
    assert mounts_below([root]) == []


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (run_modes.NAMESPACES, NAMESPACES),
        (run_modes.USER_NAMESPACE, USER_NAMESPACE),
        (run_modes.CHROOT, CHROOT),
        (run_modes.REFUSED, CHROOT),
    ],
)
def test_the_runner_decides_what_run_steps_get(mode: str, expected: str) -> None:
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from kaniko_action.sandbox.namespaces import probe; e = probe();"
        "print(e.mode); print(e.log_line())"
    )
    done = subprocess.run(
        [*run_modes.wrapper(mode), sys.executable, "-c", probe, str(REPO)],
        capture_output=True,
        text=True,
        check=True,
    )
    got, line = done.stdout.splitlines()
    assert got == expected
    assert line.startswith(run_modes.log_line_start(mode)), line
    if mode == run_modes.REFUSED:
        assert "unshare(user): Operation not permitted" in line


def test_the_run_environment_is_told_in_words() -> None:
    full = RunEnvironment(NAMESPACES, shm_bytes=2 << 30)
    assert "/dev/shm (2 GiB)" in full.log_line()
    assert full.summary() == "namespaces: own PID tree, /proc, /dev/shm 2 GiB"
    degraded = full.without_namespaces("the runner has no CAP_SYS_ADMIN")
    assert not degraded.namespaced
    assert degraded.summary() == "chroot without /proc (the runner has no CAP_SYS_ADMIN)"
    advice = degraded.missing_proc_advice()
    assert "the runner has no CAP_SYS_ADMIN" in advice
    assert "hostUsers: false" in advice and "seccompProfile Unconfined" in advice
    assert 'deploy/README.md, "RUN steps and /proc"' in advice
