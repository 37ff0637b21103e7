"""The disposable chroot: creating its skeleton and removing it without a trace."""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Callable, Collection
from pathlib import Path, PurePosixPath
from types import TracebackType

from ..cancellation import CancelState
from ..errors import SandboxError
from . import guardian, kaniko_files, workdirs
from .guardian import Guardian
from .layout import INJECTED, ChrootLayout, host_path
from .teardown import CHROOT_NAME, teardown
from .workdirs import WorkDir

# (name, major, minor, mode) as on any Linux system.
DEVICES = (
    ("null", 1, 3, 0o666),
    ("zero", 1, 5, 0o666),
    ("full", 1, 7, 0o666),
    ("random", 1, 8, 0o666),
    ("urandom", 1, 9, 0o666),
    ("tty", 5, 0, 0o666),
)
# Made in every chroot: POSIX shared memory and semaphores (Python's multiprocessing locks)
# work on a sticky world-writable directory; in namespaces a tmpfs is mounted over it.
SHM_DIR = ("shm", 0o1777)
# Mount points and links for RUN steps in namespaces of their own (nsinit.py mounts there).
NAMESPACE_DIRS = (("pts", 0o755), ("mqueue", 0o755))
NAMESPACE_LINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
)
ETC_FILES = ("resolv.conf", "hosts", "nsswitch.conf")
_FALLBACK_ETC = {
    "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    "nsswitch.conf": "hosts: files dns\n",
    "resolv.conf": "",
}


def mountinfo_text(paths: tuple[PurePosixPath, ...]) -> str:
    """A mountinfo listing `/` and each injected path, as kaniko's ignore-list scan reads it."""
    lines = ["1 0 0:1 / / rw - rootfs rootfs rw"]
    for n, path in enumerate(paths, start=2):
        lines.append(f"{n} 1 0:{n} / {path} rw - none none rw")
    return "\n".join(lines) + "\n"


class Sandbox:
    """A work directory holding the chroot; a context manager that always removes it.

    `base_dir` must be a real path: processes and mounts of the build are recognised by the
    chroot's path as the kernel reports it.
    """

    def __init__(
        self, base_dir: Path, cancel: CancelState, also_reap: tuple[Path, ...] = ()
    ) -> None:
        self.base_dir = base_dir
        self.cancel = cancel
        # Other directories whose stale work directories are removed first (workdirs.py).
        self.also_reap = also_reap
        self.workdir: Path | None = None
        self._lock: WorkDir | None = None
        self._guardian: Guardian | None = None
        self._kaniko_copy: _Task | None = None
        self.reaped: list[Path] = []

    @property
    def root(self) -> Path:
        if self.workdir is None:
            raise SandboxError("sandbox not created")
        return self.workdir / CHROOT_NAME

    def __enter__(self) -> Sandbox:
        try:
            # A signal during creation is raised as the shield ends, still inside this try:
            # what was created is removed before the exception leaves (no __exit__ follows
            # a failed __enter__).
            with self.cancel.shielded():
                self.base_dir.mkdir(parents=True, exist_ok=True)
                # Work directories of builds that were killed (their lock is free) go first.
                for base in (self.base_dir, *self.also_reap):
                    self.reaped += workdirs.reap(base, teardown)
                self._lock = workdirs.create(self.base_dir)
                self.workdir = self._lock.path
                self._guardian = guardian.start(self.workdir, keep_fds=(self._lock.lock_fd,))
                os.mkdir(self.root, 0o755)
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def remove(self) -> None:
        """Stop the build's processes, detach its mounts, delete the work directory.

        Signals do not interrupt this; one that arrives is raised afterwards.
        """
        if self.workdir is None:
            return
        with self.cancel.shielded():
            self._wait_for_kaniko_copy(reraise=False)
            try:
                teardown(self.workdir)
            finally:
                self.workdir = None
                if self._guardian is not None:
                    self._guardian.dismiss()
                    self._guardian = None
                if self._lock is not None:
                    self._lock.release()
                    self._lock = None

    def path(self, inside: PurePosixPath) -> Path:
        return Path(host_path(str(self.root), inside))

    def start_kaniko_copy(
        self, layout: ChrootLayout, executor_dir: Path, helpers: Collection[str] | None = None
    ) -> None:
        """Begin copying kaniko's own files into the chroot on a thread: the copy is done in
        the kernel, so staging the context on this one overlaps it. `populate` waits for it."""
        if self._kaniko_copy is None:
            # Made here, not on the thread: staging the context creates directories in it too.
            self.path(layout.kaniko_dir).mkdir(mode=0o755, parents=True, exist_ok=True)
            self._kaniko_copy = _Task(
                lambda: kaniko_files.install(
                    self.path(layout.kaniko_dir), self.path(layout.ca_bundle), executor_dir, helpers
                )
            )

    def _wait_for_kaniko_copy(self, reraise: bool) -> None:
        task, self._kaniko_copy = self._kaniko_copy, None
        if task is not None:
            task.wait(reraise)

    def populate(
        self,
        layout: ChrootLayout,
        executor_dir: Path,
        extra_injected: tuple[PurePosixPath, ...] = (),
        helpers: Collection[str] | None = None,
        namespaced: bool = False,
    ) -> None:
        """Lay out everything the executor needs except the context and credentials;
        of the credential helpers, only `helpers` (all when None). Kaniko's files are copied
        here unless `start_kaniko_copy` began it (with its own choice of helpers).
        `namespaced`: the mount points and links of /dev that RUN steps in namespaces get."""
        root = self.root
        # An empty /kaniko: kaniko copies it to KANIKO_DIR and deletes it at start, so the
        # image being built may contain /kaniko of its own.
        (root / "kaniko").mkdir()
        if self._kaniko_copy is None:
            kaniko_files.install(
                self.path(layout.kaniko_dir), self.path(layout.ca_bundle), executor_dir, helpers
            )
        else:
            self._wait_for_kaniko_copy(reraise=True)
        self._make_devices(namespaced)
        self._copy_etc()
        proc_self = root / "proc" / "self"
        proc_self.mkdir(parents=True)
        (proc_self / "mountinfo").write_text(
            mountinfo_text(INJECTED + extra_injected), encoding="utf-8"
        )
        # Maintained kaniko resolves its own path through /proc/self/exe when it starts.
        # The link must go once it has: programs in RUN steps (busybox's shell, for one)
        # re-execute themselves through /proc/self/exe and would run the executor instead.
        os.symlink(str(layout.executor), proc_self / "exe")
        self.path(layout.outputs_dir).mkdir(parents=True)

    def drop_exe_link(self) -> None:
        """Remove proc/self/exe, which only the executor's start-up needs."""
        link = self.root / "proc" / "self" / "exe"
        if os.path.islink(link):
            os.unlink(link)

    def _make_devices(self, namespaced: bool) -> None:
        dev = self.root / "dev"
        dev.mkdir(mode=0o755)
        for name, mode in (SHM_DIR, *(NAMESPACE_DIRS if namespaced else ())):
            (dev / name).mkdir()
            os.chmod(dev / name, mode)
        for name, target in NAMESPACE_LINKS if namespaced else ():
            os.symlink(target, dev / name)
        for name, major, minor, mode in DEVICES:
            try:
                os.mknod(dev / name, mode | stat.S_IFCHR, os.makedev(major, minor))
            except OSError as e:
                if e.errno == errno.EPERM:
                    raise SandboxError(
                        f"cannot create device node /dev/{name} in the chroot: the runner needs "
                        "root with the MKNOD capability (securityContext.capabilities.add)"
                    ) from e
                raise
            os.chmod(dev / name, mode)

    def add_hosts(self, entries: tuple[tuple[str, str], ...]) -> None:
        """Append `ip host` lines to the chroot's /etc/hosts (the add-hosts input)."""
        if entries:
            hosts = self.root / "etc" / "hosts"
            text = hosts.read_text(encoding="utf-8", errors="replace")
            if text and not text.endswith("\n"):
                text += "\n"
            text += "".join(f"{ip}\t{host}\n" for host, ip in entries)
            hosts.write_text(text, encoding="utf-8")

    def _copy_etc(self) -> None:
        etc = self.root / "etc"
        etc.mkdir(mode=0o755)
        for name in ETC_FILES:
            source = Path("/etc") / name
            try:
                data = source.read_bytes()
            except OSError:
                data = _FALLBACK_ETC[name].encode()
            (etc / name).write_bytes(data)


class _Task:
    """A function run on its own thread; its exception is raised by whoever waits for it."""

    def __init__(self, function: Callable[[], None]) -> None:
        self._function = function
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kaniko-copy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._function()
        except BaseException as e:  # handed to the thread that waits
            self._error = e

    def wait(self, reraise: bool) -> None:
        self._thread.join()
        error, self._error = self._error, None
        if reraise and error is not None:
            raise error
