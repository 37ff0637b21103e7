"""The guardian: a process that removes the build's work directory if the action is killed.

The runner ends a cancelled step with SIGKILL when it does not stop within 10 s, and a runner
pod or VM can kill the action at any moment. A SIGKILLed process cannot clean up after itself,
so each sandbox gets a guardian forked at its creation: it sits in a session of its own, with
nothing but a pipe from the action and the work directory's lock. When the action finishes its
own clean-up it says so and the guardian exits; if the pipe reaches EOF without that, the
action is dead and the guardian takes the work directory down (see teardown). The executor
itself dies with the action (PR_SET_PDEATHSIG), so nothing pushes after a kill.
"""

from __future__ import annotations

import os
import signal
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from .teardown import teardown

DONE = b"done"


@dataclass
class Guardian:
    pid: int
    pipe: int

    def dismiss(self) -> None:
        """The action cleaned up itself: let the guardian exit, and reap it."""
        if self.pipe < 0:
            return
        with suppress(OSError):
            os.write(self.pipe, DONE)
        os.close(self.pipe)
        self.pipe = -1
        with suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def start(workdir: Path, keep_fds: tuple[int, ...] = ()) -> Guardian:
    """Fork the guardian of `workdir`; `keep_fds` (the work directory's lock) stay open in it.

    Call before any thread exists: the child only runs async-signal-safe-enough Python.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        status = 0
        try:
            _guard(read_end, workdir, keep_fds)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(read_end)
    return Guardian(pid, write_end)


def _guard(read_end: int, workdir: Path, keep_fds: tuple[int, ...]) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    os.setsid()
    # Hold nothing of the action's: not its output pipe to the runner (the runner would wait
    # for it), not its other descriptors.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    keep = {0, 1, 2, read_end, *keep_fds}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            with suppress(OSError):
                os.close(fd)
    received = b""
    while True:
        chunk = os.read(read_end, 64)
        if not chunk:
            break
        received += chunk
    if received == DONE:
        return
    teardown(workdir)
