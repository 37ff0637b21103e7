"""Per-build work directories under RUNNER_TEMP (or the `work-dir` input): creating them,
proving who owns them, and removing the ones a killed run left behind.

Every work directory holds a lock file that its build holds an exclusive `flock` on for its
whole life (the guardian process holds it too, until it has finished cleaning up). The kernel
drops the lock when the last holder dies, however it dies, so a later run can tell for certain
that a directory is stale: it can take the lock. A directory whose lock is held belongs to a
live build and is never touched.

A directory only gets its final `kaniko-build-*` name once its lock is held: it is made under a
`.kaniko-build-new-*` name, locked, then renamed. A scan therefore never sees an unlocked
directory of a live build.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from ..spec.paths import NEW_WORKDIR_PREFIX, WORKDIR_LOCK, WORKDIR_PREFIX

# A directory that never got its lock (its run was killed within microseconds of creating
# it) is removed once it is this old.
UNLOCKED_GRACE_SECONDS = 3600.0


@dataclass
class WorkDir:
    path: Path
    lock_fd: int

    def release(self) -> None:
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
            self.lock_fd = -1


def _open_lock(directory: Path, create: bool) -> int:
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_CREAT | os.O_EXCL if create else 0)
    return os.open(directory / WORKDIR_LOCK, flags, 0o600)


def create(base: Path) -> WorkDir:
    """A fresh, locked work directory (mode 0700) under `base`."""
    staging = Path(tempfile.mkdtemp(prefix=NEW_WORKDIR_PREFIX, dir=base))
    final = base / (WORKDIR_PREFIX + staging.name[len(NEW_WORKDIR_PREFIX) :])
    fd = -1
    try:
        fd = _open_lock(staging, create=True)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{os.getpid()}\n".encode())
        # Never replaces anything: a directory of that name would hold a lock file.
        os.rename(staging, final)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        _remove_quietly(staging)
        raise
    return WorkDir(final, fd)


def _remove_quietly(path: Path) -> None:
    with suppress(OSError):
        os.unlink(path / WORKDIR_LOCK)
    with suppress(OSError):
        os.rmdir(path)


def _try_lock(directory: Path) -> int | None:
    """The directory's lock, taken, when no live process holds it; else None."""
    try:
        fd = _open_lock(directory, create=False)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _candidates(base: Path, now: float) -> list[tuple[Path, int | None]]:
    """Stale work directories, each with its lock now held by us (None: never locked)."""
    found: list[tuple[Path, int | None]] = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return found
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        if entry.name.startswith((WORKDIR_PREFIX, NEW_WORKDIR_PREFIX)):
            fd = _try_lock(path)
            if fd is not None:
                found.append((path, fd))
                continue
        if entry.name.startswith(WORKDIR_PREFIX) and not os.path.lexists(path / WORKDIR_LOCK):
            # Teardown deletes the lock file last: a work directory without one is one whose
            # removal was over or cut short (its owner, and its lock, are gone).
            found.append((path, None))
            continue
        if entry.name.startswith(NEW_WORKDIR_PREFIX) and not os.path.lexists(path / WORKDIR_LOCK):
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            if age > UNLOCKED_GRACE_SECONDS:
                found.append((path, None))
    return found


def reap(base: Path, clean: Callable[[Path], None], now: float | None = None) -> list[Path]:
    """Clean up every stale work directory under `base` with `clean`; returns those removed.

    The stale directory's lock is held while it is cleaned, so two runs never clean the same
    one. A directory that cannot be cleaned is left for a later run: it is not this build's
    failure.
    """
    removed: list[Path] = []
    for path, fd in _candidates(base, time.time() if now is None else now):
        try:
            clean(path)
        except Exception:  # a stale directory is never this build's failure
            continue
        finally:
            if fd is not None:
                os.close(fd)
        removed.append(path)
    return removed


def _runner_temp(env: Mapping[str, str]) -> Path:
    return Path(os.path.realpath(env.get("RUNNER_TEMP") or tempfile.gettempdir()))


def work_base(env: Mapping[str, str], work_dir: Path | None = None) -> Path:
    """Where per-build work directories go: `work_dir` (the work-dir input, already a real
    path) when given, else RUNNER_TEMP, as a real path.

    Resolved once: the chroot's processes and mounts are recognised by the path the kernel
    reports, which never goes through a symlink.
    """
    return work_dir if work_dir is not None else _runner_temp(env)


def swept_bases(env: Mapping[str, str], work_dir: Path | None) -> tuple[Path, ...]:
    """Where else stale work directories are looked for: RUNNER_TEMP, when `work_dir` takes
    its place (a run without work-dir may have been killed there)."""
    temp = _runner_temp(env)
    return () if work_dir is None or work_dir == temp else (temp,)
