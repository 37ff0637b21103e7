"""Running the executor inside the chroot, and making sure nothing of it outlives the build."""

from __future__ import annotations

import errno
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from ..cancellation import CancelState
from ..errors import SandboxError
from ..sandbox import namespaces
from ..sandbox.namespaces import NamespaceSetupFailed, RunEnvironment
from ..sandbox.processes import terminate
from ..utils.linux import parent_death_signal
from .argv import Invocation

# Go runs package initialisers (where kaniko resolves /proc/self/exe) long before this.
STARTUP_SECONDS = 1.0
# After the executor and everything in the chroot are gone, the pipe reaches EOF at once;
# this only bounds a writer that escaped the chroot.
DRAIN_SECONDS = 2.0
POLL_SECONDS = 0.2
MAX_LINE_BYTES = 65536

_CAP_SYS_CHROOT_HINT = (
    "the runner cannot chroot: it needs the SYS_CHROOT capability "
    "(securityContext.capabilities.add: [SYS_CHROOT] in the runner pod)"
)


def _enter_chroot(root: str, parent: int) -> Callable[[], None]:
    # Die with the action: a SIGKILLed action must not leave kaniko building and pushing.
    die_with_parent = parent_death_signal(signal.SIGKILL)

    def enter() -> None:
        die_with_parent()
        if os.getppid() != parent:
            os._exit(125)
        os.chroot(root)
        os.chdir("/")
        os.umask(0o022)

    return enter


def spawn_in_chroot(
    root: Path,
    invocation: Invocation,
    stdin: int = subprocess.DEVNULL,
    stderr: int = subprocess.STDOUT,
) -> subprocess.Popen[bytes]:
    """Start `invocation` chrooted into `root` in a session of its own, its output on a pipe;
    it dies with the action."""
    try:
        return subprocess.Popen(
            list(invocation.argv),
            env=invocation.env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=stderr,
            preexec_fn=_enter_chroot(str(root), os.getpid()),
            start_new_session=True,
            close_fds=True,
        )
    except subprocess.SubprocessError as e:
        # preexec_fn failed: chroot (or chdir) was refused.
        raise SandboxError(_CAP_SYS_CHROOT_HINT) from e
    except PermissionError as e:
        raise SandboxError(f"{_CAP_SYS_CHROOT_HINT} ({e.strerror})") from e


def _start(
    root: Path,
    invocation: Invocation,
    environment: RunEnvironment | None,
    on_fallback: Callable[[str], None],
) -> subprocess.Popen[bytes]:
    """Start `invocation` in the chroot: in namespaces of its own when `environment` has
    them, in the plain chroot otherwise, or when they could not be set up (nothing has run
    then; `on_fallback` is told why)."""
    if environment is not None and environment.namespaced:
        try:
            return namespaces.start(str(root), invocation.argv, invocation.env, environment)
        except NamespaceSetupFailed as e:
            on_fallback(str(e))
    return spawn_in_chroot(root, invocation)


class _Lines:
    """Splits a byte stream into lines as they complete, delivered in batches."""

    def __init__(self, on_lines: Callable[[list[str]], None]) -> None:
        self.on_lines = on_lines
        self.pending = b""
        self.seen = False

    def feed(self, data: bytes) -> None:
        self.seen = True
        self.pending += data
        *complete, self.pending = self.pending.split(b"\n")
        if len(self.pending) > MAX_LINE_BYTES:
            # Output without line ends is shown in pieces, not kept in memory.
            complete.append(self.pending)
            self.pending = b""
        if complete:
            self.on_lines([_text(raw) for raw in complete])

    def close(self) -> None:
        if self.pending:
            self.on_lines([_text(self.pending)])
            self.pending = b""


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


def _read_available(fd: int, lines: _Lines, timeout: float) -> bool:
    """Read what the pipe has within `timeout`; False at EOF."""
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return True
    try:
        data = os.read(fd, 65536)
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EINTR):
            return True
        raise
    if not data:
        return False
    lines.feed(data)
    return True


def run_in_chroot(
    root: Path,
    invocation: Invocation,
    on_lines: Callable[[list[str]], None],
    cancel: CancelState,
    on_started: Callable[[], None] = lambda: None,
    environment: RunEnvironment | None = None,
    on_fallback: Callable[[str], None] = lambda _reason: None,
) -> int:
    """Run the executor chrooted into `root`, streaming its output; returns its exit status
    (128 + N when a signal N ended it in namespaces of its own).

    With an `environment` that has namespaces, the executor runs in them (see _start); when
    it ends, the kernel ends every process left in its PID namespace.

    The executable path only exists inside the chroot, so if entering it failed the exec
    fails too: the executor can never start against the runner's own `/`.

    The executor's exit ends the wait, not the end of its output: a RUN step may leave a
    process behind that holds the pipe. Everything left in the chroot is then stopped, and
    the output drained. `on_started` runs once the executor is past its start-up: at its
    first line of output, or after STARTUP_SECONDS, whichever comes first.

    A cancellation raises out of the wait; the executor and everything it started are
    stopped before that exception leaves this function.
    """
    lines = _Lines(on_lines)
    proc: subprocess.Popen[bytes] | None = None
    try:
        # A signal during the start is raised when the shield ends: inside this try, with
        # the process already registered for the clean-up below.
        with cancel.shielded():
            proc = _start(root, invocation, environment, on_fallback)
        assert proc.stdout is not None
        status = _watch(proc, proc.stdout.fileno(), lines, on_started)
    finally:
        if proc is not None:
            with cancel.shielded():
                _stop_and_drain(proc, root, lines)
    return status


def _watch(
    proc: subprocess.Popen[bytes], fd: int, lines: _Lines, on_started: Callable[[], None]
) -> int:
    """Show the output until the executor exits; returns its status."""
    started_at = time.monotonic()
    started = False
    open_pipe = True
    while proc.poll() is None:
        if open_pipe:
            open_pipe = _read_available(fd, lines, POLL_SECONDS)
        else:  # the output ended: the exit follows, no need to sleep through it
            with suppress(subprocess.TimeoutExpired):
                proc.wait(POLL_SECONDS)
        if not started and (lines.seen or time.monotonic() - started_at >= STARTUP_SECONDS):
            started = True
            on_started()
    return proc.returncode


def _stop_and_drain(proc: subprocess.Popen[bytes], root: Path, lines: _Lines) -> None:
    """Stop what is left in the session or chroot, reap the executor, show the rest."""
    # RUN steps run in process groups and sessions of their own; anything left in the
    # session or the chroot goes now, before the output is drained.
    terminate(proc.pid, root)
    proc.wait()
    assert proc.stdout is not None
    deadline = time.monotonic() + DRAIN_SECONDS
    with suppress(OSError):
        while time.monotonic() < deadline and _read_available(proc.stdout.fileno(), lines, 0.1):
            pass
    lines.close()
    proc.stdout.close()


class Background:
    """A short command started in the chroot alongside the build (the executor's `version`):
    its output is read once it is wanted. The build's clean-up stops it if it is still there."""

    def __init__(self, root: Path, invocation: Invocation, cancel: CancelState) -> None:
        self.root = root
        with cancel.shielded():
            self.proc: subprocess.Popen[bytes] | None = spawn_in_chroot(root, invocation)
        self._result: tuple[int, str] | None = None

    def result(self, timeout: float = 10.0) -> tuple[int, str]:
        """Its exit status and output (waiting at most `timeout` seconds for them)."""
        if self._result is None:
            assert self.proc is not None
            try:
                out, _ = self.proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                terminate(self.proc.pid, self.root)
                out, _ = self.proc.communicate()
            self._result = (self.proc.returncode, out.decode("utf-8", errors="replace"))
            self.proc = None
        return self._result
