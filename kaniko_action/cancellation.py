"""A cancelled run: SIGINT and SIGTERM become a Cancelled exception, but only where that is safe.

The runner cancels a step with SIGINT, then SIGTERM 7.5 s later, then SIGKILL. The first signal
interrupts whatever the action is doing (staging, waiting for kaniko) by raising Cancelled from
the handler. Code that acquires something it must later release, and the clean-up itself, run
`shielded()`: a signal arriving there is only recorded, and raised once the shield is left, so
that clean-up is never cut short and nothing is created without being registered for removal.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from .errors import Cancelled
from .utils.linux import parent_death_signal

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class CancelState:
    """Which signal arrived, and whether it may interrupt the code running now."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._shield_depth = 0
        self._raised = False

    @property
    def cancelled(self) -> bool:
        return self.signum is not None

    def handler(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        if self._shield_depth == 0:
            self._raise_once()

    def _raise_once(self) -> None:
        if self.signum is not None and not self._raised:
            self._raised = True
            raise Cancelled(self.signum)

    @contextmanager
    def shielded(self) -> Iterator[None]:
        """Run a block that a signal must not interrupt; raise the signal afterwards.

        When the block itself ends with an exception, that exception propagates and the
        signal stays recorded for the next check.
        """
        self._shield_depth += 1
        try:
            yield
        finally:
            self._shield_depth -= 1
        if self._shield_depth == 0:
            self._raise_once()


@contextmanager
def cancellation() -> Iterator[CancelState]:
    """Install the handlers for the duration of a build.

    Once cancelled, the run is over: later signals of the same cancellation (the runner
    follows SIGINT with SIGTERM) are ignored rather than given back to the default handlers,
    so the exit status stays the one that reports the cancellation.
    """
    state = CancelState()
    previous = {s: signal.signal(s, state.handler) for s in SIGNALS}
    try:
        yield state
    finally:
        for s, h in previous.items():
            signal.signal(s, signal.SIG_IGN if state.cancelled else h)


def follow_parent(parent: int | None, sig: int = signal.SIGTERM) -> None:
    """Receive `sig` when the parent process dies: the action re-run through sudo must
    notice when sudo is killed (SIGKILL is not relayed) and clean up as if cancelled."""
    parent_death_signal(sig)()
    if parent is not None and os.getppid() != parent and not _alive(parent):
        os.kill(os.getpid(), sig)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
