"""Finding and stopping every process of a build: those in the executor's session and those
whose root directory is inside its chroot (a RUN step may start its own session)."""

from __future__ import annotations

import os
import signal
import time
from contextlib import suppress
from pathlib import Path

from ..errors import SandboxError

TERM_GRACE_SECONDS = 1.0
KILL_DEADLINE_SECONDS = 60.0


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            data = f.read()
    except OSError:
        return None
    # Fields after the command name, which is in parentheses and may contain anything.
    return data[data.rfind(")") + 2 :].split()


def _session_of(pid: int) -> int | None:
    """The session id of a live process; None for a zombie or a process that is gone."""
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 4 or fields[0] in ("Z", "X"):
        return None
    return int(fields[3])


def _root_of(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/root")
    except OSError:
        return None


def _inside(path: str, prefix: str) -> bool:
    if path.endswith(" (deleted)"):
        path = path[: -len(" (deleted)")]
    return path == prefix or path.startswith(prefix + "/")


def processes_of(session: int | None, root: Path) -> list[int]:
    """Live processes in the executor's session, or whose root directory is inside `root`.

    `root` must be a real path (no symlinks), as /proc/PID/root shows it.
    """
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
        if (proc_root is not None and _inside(proc_root, prefix)) or (
            session is not None and session_id == session
        ):
            found.append(pid)
    return found


def _signal_all(pids: list[int] | set[int], sig: int) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, sig)


def _wait_gone(session: int | None, root: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while processes_of(session, root):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def terminate(
    session: int | None,
    root: Path,
    grace: float = TERM_GRACE_SECONDS,
    deadline: float = KILL_DEADLINE_SECONDS,
) -> None:
    """Stop every process of the build; returns only when none is left.

    SIGTERM first, briefly. Then, until none is left: stop every process found with SIGSTOP
    (a stopped process cannot fork) until a scan finds no new one, SIGKILL them all, wait.
    A RUN step that ignores SIGTERM and forks in a loop is thus caught whole. Zombies do not
    count (processes_of skips them): the caller reaps its own child.
    """
    pids = processes_of(session, root)
    if not pids:
        return
    _signal_all(pids, signal.SIGTERM)
    if _wait_gone(session, root, grace):
        return
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        stopped: set[int] = set()
        while True:
            fresh = set(processes_of(session, root)) - stopped
            if not fresh:
                break
            _signal_all(fresh, signal.SIGSTOP)
            stopped |= fresh
        if not stopped:
            return
        _signal_all(stopped, signal.SIGKILL)
        if _wait_gone(session, root, 2.0):
            return
    left = processes_of(session, root)
    if left:
        raise SandboxError(
            f"processes of the build survived SIGKILL for {deadline:.0f}s: "
            f"{', '.join(map(str, left))}"
        )
