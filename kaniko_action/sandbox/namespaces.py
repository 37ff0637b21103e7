"""What RUN steps get on this runner, and starting the executor in namespaces of its own.

Where the runner may mount (root with CAP_SYS_ADMIN), the executor runs under a small init
(nsinit.py) as in a container: PID, mount, IPC and UTS namespaces of its own, a fresh /proc,
a tmpfs /dev/shm, /dev/pts, /dev/mqueue, /dev/fd. Without CAP_SYS_ADMIN the same is had in a
user namespace where one can be made with the identity map (CAP_SETUID, CAP_SETGID and
CAP_SETFCAP, and no seccomp profile or kernel setting refusing it) and a fresh /proc mounted
in it. Otherwise RUN steps run in the plain chroot, without /proc, with /dev/shm a directory.
A /proc of the runner itself is never shown to RUN steps: only one of the build's own PID
namespace.
"""

from __future__ import annotations

import marshal
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..utils.linux import parent_death_signal
from . import nsinit
from .preflight import effective_capabilities

NAMESPACES = "namespaces"
USER_NAMESPACE = "user namespace"
CHROOT = "chroot"
DEFAULT_SHM_BYTES = 64 * 1024 * 1024  # Docker's
SETUP_TIMEOUT_SECONDS = 30.0
CAP_SETGID = 6
CAP_SETUID = 7
CAP_SYS_ADMIN = 21
CAP_SETFCAP = 31
GUIDE = 'deploy/README.md, "RUN steps and /proc"'


def _size(n: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


@dataclass(frozen=True)
class RunEnvironment:
    """How RUN steps run: `mode` is NAMESPACES, USER_NAMESPACE or CHROOT; `reason` says why
    they get less than NAMESPACES."""

    mode: str = CHROOT
    reason: str = ""
    shm_bytes: int = DEFAULT_SHM_BYTES

    @property
    def namespaced(self) -> bool:
        return self.mode != CHROOT

    def without_namespaces(self, reason: str) -> RunEnvironment:
        return replace(self, mode=CHROOT, reason=reason)

    def log_line(self) -> str:
        """The sentence preflight shows at the start of the log."""
        if self.namespaced:
            where = " in a user namespace" if self.mode == USER_NAMESPACE else ""
            why = f" ({self.reason})" if self.reason else ""
            return (
                f"RUN steps run as in a container{where}{why}: PID, mount, IPC and UTS "
                f"namespaces of their own, /proc, /dev/shm ({_size(self.shm_bytes)}), "
                "/dev/pts, /dev/fd"
            )
        return (
            f"RUN steps run in a plain chroot without /proc: {self.reason}. They get no "
            "/proc, /dev/fd or ps, and /dev/shm is a directory; see " + GUIDE
        )

    def summary(self) -> str:
        """The job summary's line."""
        if self.namespaced:
            kind = "user namespace" if self.mode == USER_NAMESPACE else "namespaces"
            return f"{kind}: own PID tree, /proc, /dev/shm {_size(self.shm_bytes)}"
        return f"chroot without /proc ({self.reason})"

    def missing_proc_advice(self) -> str:
        """For a RUN step that failed on a missing /proc path."""
        return (
            f"RUN steps on this runner have no /proc ({self.reason}); to give them one, run "
            "the runner with CAP_SYS_ADMIN (a VM, or a pod with hostUsers: false and "
            "SYS_ADMIN added) or let it make user namespaces (seccompProfile Unconfined); "
            "see " + GUIDE
        )


class NamespaceSetupFailed(Exception):
    """The init could not set the namespaces up; nothing of the build has run."""


def _init_code() -> bytes:
    return Path(nsinit.__file__).read_bytes()


def _preexec(parent: int) -> Callable[[], None]:
    arm = parent_death_signal(signal.SIGKILL)

    def run() -> None:
        arm()
        if os.getppid() != parent:
            os._exit(nsinit.SETUP_FAILED)

    return run


def _read_status(fd: int, timeout: float) -> bytes:
    """What the init said on its status pipe, up to EOF (or `timeout`)."""
    data = b""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
        if data == nsinit.READY:
            break
    return data


def _finish(proc: subprocess.Popen[bytes]) -> bytes:
    """Its output, once it has exited."""
    assert proc.stdout is not None
    with proc.stdout:
        out = proc.stdout.read()
    proc.wait()
    return out


def start(
    root: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    environment: RunEnvironment,
    probe: bool = False,
) -> subprocess.Popen[bytes]:
    """Start `argv` with `env` under the init, chrooted into `root`, its output (stdout and
    stderr) on a pipe, in a session of its own; it dies with the action. Returns once the
    init reported ready; raises NamespaceSetupFailed (everything it started already gone)
    when it could not set up."""
    python = sys.executable
    if not python:
        raise NamespaceSetupFailed("the action's Python interpreter has no path")
    status_read, status_write = os.pipe()
    config = {
        "root": root,
        "argv": list(argv),
        "env": dict(env),
        "userns": environment.mode == USER_NAMESPACE,
        "shm": environment.shm_bytes,
        "status": status_write,
        "probe": probe,
    }
    try:
        proc = subprocess.Popen(
            [python, "-I", "-S", "-c", nsinit.BOOT],
            env={},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            close_fds=True,
            pass_fds=(status_write,),
            start_new_session=True,
            preexec_fn=_preexec(os.getpid()),
        )
    except OSError as e:
        os.close(status_read)
        raise NamespaceSetupFailed(f"cannot start {python}: {e.strerror}") from e
    finally:
        os.close(status_write)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        code = _init_code()
        try:
            proc.stdin.write(b"%d\n" % len(code) + code + marshal.dumps(config))
            proc.stdin.close()
        except BrokenPipeError:
            pass
        status = _read_status(status_read, SETUP_TIMEOUT_SECONDS)
    finally:
        os.close(status_read)
    if status == nsinit.READY:
        return proc
    # Nothing of the build has run: the init goes, and says why.
    proc.kill()
    out = _finish(proc).decode("utf-8", "replace").strip()
    if status.startswith(nsinit.FAILED):
        raise NamespaceSetupFailed(status[len(nsinit.FAILED) :].decode("utf-8", "replace"))
    last = out.splitlines()[-1] if out else "no message"
    raise NamespaceSetupFailed(f"the init exited with status {proc.returncode} ({last})")


def _refusal(mode: str, shm_bytes: int) -> str | None:
    """Why the init cannot set up `mode` here (None: it can). It mounts a fresh proc in a
    private mount namespace and starts nothing."""
    try:
        proc = start("/", ("/bin/true",), {}, RunEnvironment(mode, shm_bytes=shm_bytes), True)
    except NamespaceSetupFailed as e:
        return str(e)
    _finish(proc)
    return None


def probe(shm_bytes: int = DEFAULT_SHM_BYTES, status_text: str | None = None) -> RunEnvironment:
    """What RUN steps can get on this runner (the action must be root). `status_text`: this
    process's /proc/self/status, for its capabilities."""
    caps = effective_capabilities(status_text)

    def has(bit: int) -> bool:
        return caps is None or bool(caps & (1 << bit))

    if has(CAP_SYS_ADMIN):
        refused = _refusal(NAMESPACES, shm_bytes)
        if refused is None:
            return RunEnvironment(NAMESPACES, shm_bytes=shm_bytes)
        why = f"namespaces were refused ({refused})"
    else:
        why = "the runner has no CAP_SYS_ADMIN"
    missing = [
        name
        for name, bit in (("SETUID", CAP_SETUID), ("SETGID", CAP_SETGID), ("SETFCAP", CAP_SETFCAP))
        if not has(bit)
    ]
    if missing:
        lack = "/".join(missing)
        return RunEnvironment(CHROOT, f"{why}, nor {lack} for a user namespace", shm_bytes)
    refused = _refusal(USER_NAMESPACE, shm_bytes)
    if refused is None:
        return RunEnvironment(USER_NAMESPACE, why, shm_bytes)
    return RunEnvironment(CHROOT, f"{why}, and no user namespace ({refused})", shm_bytes)
