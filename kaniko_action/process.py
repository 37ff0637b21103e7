"""Running the executor inside the chroot and making sure nothing of it outlives the build."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType

from .argv import Invocation
from .errors import Cancelled

KILL_GRACE_SECONDS = 5.0
# Go runs package initialisers (where kaniko resolves /proc/self/exe) long before this.
STARTUP_SECONDS = 1.0


class _Once:
    def __init__(self, action: Callable[[], None]) -> None:
        self._action = action
        self._lock = threading.Lock()
        self._done = False

    def __call__(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        self._action()


def _enter_chroot(root: str) -> Callable[[], None]:
    def enter() -> None:
        os.chroot(root)
        os.chdir("/")
        os.umask(0o022)

    return enter


def _session_of(pid: int) -> int | None:
    """The session id of a live process; None for a zombie or a process that is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            data = f.read()
    except OSError:
        return None
    # Fields after the command name, which is in parentheses and may contain spaces.
    fields = data[data.rfind(")") + 2 :].split()
    if len(fields) < 4 or fields[0] in ("Z", "X"):
        return None
    return int(fields[3])


def _root_of(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/root")
    except OSError:
        return None


def processes_of(session: int | None, root: Path) -> list[int]:
    """Processes in the executor's session, or whose root directory is inside the chroot."""
    found: list[int] = []
    prefix = str(root).rstrip("/")
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        session_id = _session_of(pid)
        if session_id is None:
            continue
        proc_root = _root_of(pid)
        in_chroot = proc_root is not None and (
            proc_root == prefix or proc_root.startswith(prefix + "/")
        )
        if in_chroot or session_id == session:
            found.append(pid)
    return found


def terminate(session: int | None, root: Path, grace: float = KILL_GRACE_SECONDS) -> None:
    """SIGTERM, then SIGKILL, every process of the build; returns when none is left.

    Zombies do not count (processes_of skips them): the caller reaps its own child.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = processes_of(session, root)
        if not pids:
            return
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 10.0)
        while time.monotonic() < deadline and processes_of(session, root):
            time.sleep(0.05)


@contextmanager
def cancellation() -> Iterator[None]:
    """Turn SIGINT and SIGTERM (a cancelled workflow run) into a Cancelled exception."""

    fired: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        # Only the first signal interrupts; later ones (the runner follows SIGINT with
        # SIGTERM) must not cut the clean-up short.
        if not fired:
            fired.append(signum)
            raise Cancelled(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def run_in_chroot(
    root: Path,
    invocation: Invocation,
    on_line: Callable[[str], None],
    on_started: Callable[[], None] = lambda: None,
) -> int:
    """Run the executor chrooted into `root`, streaming its output; returns its exit status.

    The executable path only exists inside the chroot, so if entering it failed the exec
    fails too: the executor can never start against the runner's own `/`.

    `on_started` runs once the executor is past its start-up: at its first line of output,
    or after STARTUP_SECONDS, whichever comes first.
    """
    proc = subprocess.Popen(
        list(invocation.argv),
        env=invocation.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=_enter_chroot(str(root)),
        start_new_session=True,
        close_fds=True,
    )
    started = _Once(on_started)
    timer = threading.Timer(STARTUP_SECONDS, started)
    timer.daemon = True
    timer.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            started()
            on_line(raw.decode("utf-8", errors="replace").rstrip("\n"))
        return proc.wait()
    finally:
        timer.cancel()
        # RUN steps run in process groups of their own; anything left in the session or
        # the chroot goes now, before the chroot is deleted.
        terminate(proc.pid, root)
        proc.wait()
