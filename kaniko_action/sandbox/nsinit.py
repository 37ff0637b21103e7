"""The init of a build's namespaces: the program that gives RUN steps what a container gives
them (a fresh /proc, /dev/shm, /dev/pts, /dev/mqueue, a process tree of their own) and starts
the executor in them.

It runs on its own, never imported by the action's processes that run it: `python3 -I -S -c
BOOT` with an empty environment, where BOOT reads this file's source from stdin, then the
marshalled configuration (namespaces.py). Neither ever shows on a command line or in an
environment. Standard library only, and nothing of the package.

    outer, in the runner's PID namespace: [a user namespace,] then new mount, PID, IPC and UTS
    namespaces; every mount made private; fork
      PID 1: proc (with Docker's read-only and masked paths), a tmpfs /dev/shm, devpts and
      mqueue mounted in the chroot; chroot; capabilities outside Docker's default set dropped
      from the bounding set; every descriptor but 0-2 closed; fork
        the executor: a session of its own, execve

PID 1 reaps every process of the build and exits with the executor's status as soon as the
executor exits; the kernel then kills whatever is left in the PID namespace, and every mount
goes with the mount namespace's last process: nothing is ever mounted where the runner sees it.
The outer process relays SIGINT, SIGTERM and SIGHUP to PID 1, which relays them to the
executor, and exits with PID 1's status. Each dies with its parent (PR_SET_PDEATHSIG).

On the status descriptor the configuration names: READY once everything is set up and the
executor is about to start, or FAILED and what failed (the exit status is then SETUP_FAILED),
before anything of the build has run.

With `probe` set, PID 1 mounts a fresh proc over /proc (in its private mount namespace) and
reports READY without starting anything: whether this runner can give RUN steps a /proc.
"""

from __future__ import annotations

import contextlib
import ctypes
import marshal
import os
import select
import signal
import stat
import sys

# Not imported when run: every import is start-up time of every build.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, NoReturn

# The command line of the outer process (and so of PID 1): read the code, run it.
BOOT = "import sys;r=sys.stdin.buffer;exec(r.read(int(r.readline())))"
READY = b"ok"
FAILED = b"fail:"
SETUP_FAILED = 125
EXEC_FAILED = 127
# The identity map: root in the namespace is root on the runner, and every file owner of a
# base image stays what it is (a map of uid 0 alone breaks the extraction of Debian).
FULL_ID_MAP = "0 0 4294967295\n"

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
_SAFE = MS_NOSUID | MS_NODEV | MS_NOEXEC

# Docker's default capabilities (by number, linux/capability.h): chown, dac_override, fowner,
# fsetid, kill, setgid, setuid, setpcap, net_bind_service, net_raw, sys_chroot, mknod,
# audit_write, setfcap. The executor and RUN steps get no other.
DOCKER_CAPABILITIES = frozenset({0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31})
# Docker's read-only and masked paths of /proc.
PROC_READ_ONLY = ("bus", "fs", "irq", "sys", "sysrq-trigger")
PROC_MASKED = (
    "acpi",
    "asound",
    "kcore",
    "keys",
    "latency_stats",
    "sched_debug",
    "scsi",
    "timer_list",
    "timer_stats",
)
RELAYED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class SetupError(Exception):
    """A namespace, mount or capability the build's environment needs was refused."""


class _Libc:
    def __init__(self) -> None:
        lib = ctypes.CDLL(None, use_errno=True)
        lib.mount.argtypes = (
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
        )
        lib.unshare.argtypes = (ctypes.c_int,)
        lib.prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
        self.lib = lib

    @staticmethod
    def _check(result: int, what: str) -> None:
        if result != 0:
            raise SetupError(f"{what}: {os.strerror(ctypes.get_errno())}")

    def unshare(self, flags: int, what: str) -> None:
        self._check(self.lib.unshare(flags), f"unshare({what})")

    def mount(
        self, source: str | None, target: str, fstype: str | None, flags: int, data: str = ""
    ) -> None:
        result = self.lib.mount(
            source.encode() if source is not None else None,
            target.encode(),
            fstype.encode() if fstype is not None else None,
            flags,
            data.encode() if data else None,
        )
        self._check(result, f"mount {fstype or source or 'flags'} on {target}")

    def prctl(self, option: int, arg: int, what: str) -> None:
        self._check(self.lib.prctl(option, arg, 0, 0), what)


def _fail(status_fd: int, message: str) -> NoReturn:
    with contextlib.suppress(OSError):
        os.write(status_fd, FAILED + message.encode("utf-8", "replace"))
    os._exit(SETUP_FAILED)


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def _directory(path: str) -> str:
    """`path`, when it is a directory and not a link to one (nothing is mounted through a
    link)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError as e:
        raise SetupError(f"{path}: {e.strerror}") from e
    if not stat.S_ISDIR(mode):
        raise SetupError(f"{path}: not a directory")
    return path


def enter_user_namespace(libc: _Libc, status_fd: int) -> None:
    """A user namespace with the identity map. The map must be written from the parent
    namespace: by a helper forked before the unshare, once it has happened."""
    me = os.getpid()
    read_end, write_end = os.pipe()
    helper = os.fork()
    if helper == 0:  # pragma: no cover - runs in the child
        os.close(write_end)
        code = 1
        try:
            if os.read(read_end, 1) == b"x":
                for name in ("uid_map", "gid_map"):
                    try:
                        with open(f"/proc/{me}/{name}", "w", encoding="ascii") as f:
                            f.write(FULL_ID_MAP)
                    except OSError as e:
                        raise SetupError(f"writing the {name}: {e.strerror}") from e
                code = 0
        except SetupError as e:
            _fail(status_fd, str(e))
        os._exit(code)
    os.close(read_end)
    try:
        libc.unshare(CLONE_NEWUSER, "user")
        os.write(write_end, b"x")
    finally:
        os.close(write_end)
        _, status = os.waitpid(helper, 0)
    if status != 0:
        os._exit(SETUP_FAILED)  # the helper said why


def mount_proc(libc: _Libc, proc: str, null: str) -> None:
    """A fresh proc of this PID namespace at `proc`, as Docker gives it: some paths
    read-only, some hidden."""
    libc.mount("proc", _directory(proc), "proc", _SAFE)
    for name in PROC_READ_ONLY:
        path = f"{proc}/{name}"
        if os.path.lexists(path):
            libc.mount(path, path, None, MS_BIND | MS_REC)
            libc.mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _SAFE)
    for name in PROC_MASKED:
        path = f"{proc}/{name}"
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(mode):
            libc.mount("tmpfs", path, "tmpfs", MS_RDONLY | _SAFE)
        else:
            libc.mount(null, path, None, MS_BIND)


def mount_dev(libc: _Libc, dev: str, shm_bytes: int) -> None:
    """/dev/shm; /dev/pts and /dev/mqueue where the kernel allows them (the chroot's links
    /dev/ptmx and /dev/fd, /dev/std* point into these mounts and the new proc)."""
    libc.mount("shm", _directory(f"{dev}/shm"), "tmpfs", _SAFE, f"mode=1777,size={shm_bytes}")
    pts = _directory(f"{dev}/pts")
    options = "newinstance,ptmxmode=0666,mode=0620"
    for data in (options + ",gid=5", options):  # gid 5 (tty) may not be mapped
        try:
            libc.mount("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC, data)
            break
        except SetupError:
            continue
    with contextlib.suppress(SetupError):
        libc.mount("mqueue", _directory(f"{dev}/mqueue"), "mqueue", _SAFE)


def drop_capabilities(libc: _Libc) -> None:
    """Every capability outside Docker's default set, out of the bounding set: the executor
    (started as root) and its RUN steps never get them."""
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as f:
        last = int(f.read())
    for cap in range(last + 1):
        if cap not in DOCKER_CAPABILITIES:
            libc.prctl(PR_CAPBSET_DROP, cap, f"dropping capability {cap}")


def _close_descriptors() -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            with contextlib.suppress(OSError):
                os.close(fd)


def _start(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Fork the executor: a session of its own, signals as a freshly started process has
    them. Returns its pid."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            for sig in (*RELAYED, signal.SIGPIPE, signal.SIGXFSZ):
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            os.setsid()
            os.execve(argv[0], list(argv), dict(env))
        except OSError as e:
            os.write(2, f"kaniko-build: cannot start {argv[0]}: {e.strerror}\n".encode())
        os._exit(EXEC_FAILED)
    return pid


def _relay(to: int) -> None:
    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(to, signum)

    for sig in RELAYED:
        signal.signal(sig, forward)


def pid1(libc: _Libc, config: Mapping[str, Any], alive: int) -> NoReturn:
    status_fd: int = config["status"]
    try:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, "PR_SET_PDEATHSIG")
        if select.select([alive], [], [], 0)[0]:
            os._exit(SETUP_FAILED)  # EOF: the outer process is gone already
        os.close(alive)
        # Nothing of this process (its memory, its files) through /proc/1 for RUN steps.
        libc.prctl(PR_SET_DUMPABLE, 0, "PR_SET_DUMPABLE")
        if config["probe"]:
            mount_proc(libc, "/proc", "/dev/null")
            os.write(status_fd, READY)
            os._exit(0)
        root: str = config["root"].rstrip("/")
        mount_proc(libc, f"{root}/proc", "/dev/null")
        mount_dev(libc, f"{root}/dev", config["shm"])
        drop_capabilities(libc)
        os.chroot(root)
        os.chdir("/")
        os.umask(0o022)
    except SetupError as e:
        _fail(status_fd, str(e))
    except OSError as e:
        _fail(status_fd, f"{e.filename or 'setup'}: {e.strerror}")
    os.write(status_fd, READY)
    _close_descriptors()
    # The relayed signals are still blocked (see main): one that came during the set-up is
    # delivered, and relayed, once the executor's pid is known.
    executor = _start(config["argv"], config["env"])
    _relay(executor)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, RELAYED)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(EXEC_FAILED)
        if pid == executor:
            os._exit(_exit_code(status))


def main() -> NoReturn:
    # Blocked until each process has its relay: until then a signal neither kills a process
    # half set up nor raises KeyboardInterrupt in one.
    signal.pthread_sigmask(signal.SIG_BLOCK, RELAYED)
    config: dict[str, Any] = marshal.loads(sys.stdin.buffer.read())
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)
    status_fd: int = config["status"]
    try:
        libc = _Libc()
        if config["userns"]:
            enter_user_namespace(libc, status_fd)
        libc.unshare(
            CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS, "mount, PID, IPC, UTS"
        )
        # Nothing mounted from here on reaches the runner's mount namespace.
        libc.mount(None, "/", None, MS_REC | MS_PRIVATE)
    except SetupError as e:
        _fail(status_fd, str(e))
    alive_read, alive_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - PID 1 of the new PID namespace
        os.close(alive_write)
        pid1(libc, config, alive_read)
    os.close(alive_read)
    os.close(status_fd)
    # The build's output pipe is held by the build alone.
    os.dup2(null, 1)
    os.dup2(null, 2)
    _relay(pid)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, RELAYED)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            os._exit(SETUP_FAILED)
        os._exit(_exit_code(status))


if __name__ == "__main__":
    main()
