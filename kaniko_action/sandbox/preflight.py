"""Checks made before any work: can this runner build at all, and here?

Each refusal names the cause and the fix. They run before the work directory exists, so a
refused build leaves nothing behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import RunnerLacks, SandboxError
from ..utils.linux import status_field

CAP_MKNOD = 27
CAP_SYS_CHROOT = 18
_CAPABILITY_FIX = (
    "to the runner container: securityContext.capabilities.add: [SYS_CHROOT, MKNOD] "
    "(containerd and Docker grant both to root containers by default; CRI-O and OpenShift "
    "do not)"
)
# Room the build needs beyond what is staged: kaniko's own files, layers, snapshots.
MARGIN_BYTES = 64 * 1024 * 1024


def effective_capabilities(status_text: str | None = None) -> int | None:
    """The CapEff mask of this process (or from /proc/self/status text); None when absent."""
    value = status_field("CapEff", status_text)
    return int(value, 16) if value else None


def check_capabilities(status_text: str | None = None, euid: int | None = None) -> None:
    """Refuse to start without root, CAP_SYS_CHROOT or CAP_MKNOD."""
    if (os.geteuid() if euid is None else euid) != 0:
        raise RunnerLacks(
            "kaniko-build needs root for chroot and device nodes: run it as root, or through "
            "passwordless sudo (the action re-runs itself with `sudo -n` when it can)"
        )
    caps = effective_capabilities(status_text)
    if caps is None:
        return
    missing = [
        name
        for name, bit in (("SYS_CHROOT", CAP_SYS_CHROOT), ("MKNOD", CAP_MKNOD))
        if not caps & (1 << bit)
    ]
    if missing:
        names = " and ".join(missing)
        several = len(missing) > 1
        raise RunnerLacks(
            f"the runner lacks the {names} capabilit{'ies' if several else 'y'}: "
            f"kaniko-build needs chroot and device nodes; add {'them' if several else 'it'} "
            f"{_CAPABILITY_FIX}"
        )


@dataclass(frozen=True)
class MountFlags:
    nodev: bool
    noexec: bool
    readonly: bool


def mount_flags(path: Path) -> MountFlags:
    st = os.statvfs(path)
    return MountFlags(
        nodev=bool(st.f_flag & os.ST_NODEV),
        noexec=bool(st.f_flag & os.ST_NOEXEC),
        readonly=bool(st.f_flag & os.ST_RDONLY),
    )


def _source(from_input: bool) -> str:
    """What chose the work directories' place: the work-dir input, or RUNNER_TEMP."""
    return "input 'work-dir'" if from_input else "RUNNER_TEMP"


def check_work_base(base: Path, flags: MountFlags | None = None, from_input: bool = False) -> None:
    """Refuse a work directory base where device nodes or the executor could not work.
    `from_input`: the base is the work-dir input's, not RUNNER_TEMP."""
    flags = flags or mount_flags(base)
    where = f"the work directory {base} ({_source(from_input)})"
    fix = (
        "mount that volume without that option (an emptyDir volume has none), or give "
        "'work-dir' a directory on such a filesystem"
        if from_input
        else "mount the runner's work volume without that option (an emptyDir volume has "
        "none), or point RUNNER_TEMP at a directory on such a filesystem"
    )
    if flags.readonly:
        raise SandboxError(f"{where} is on a read-only filesystem: {fix}")
    if flags.nodev:
        raise SandboxError(
            f"{where} is on a filesystem mounted nodev: the chroot's /dev/null and "
            f"/dev/urandom would not work there; {fix}"
        )
    if flags.noexec:
        raise SandboxError(
            f"{where} is on a filesystem mounted noexec: the executor could not start there; {fix}"
        )


def tree_bytes(paths: Iterable[Path]) -> int:
    """Disk space the regular files under `paths` take (holes in sparse files excluded)."""
    total = 0
    for top in paths:
        for dirpath, _dirs, files in os.walk(top):
            for name in files:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                total += st.st_blocks * 512
    return total


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MiB"


def _space_fix(from_input: bool) -> str:
    room = (
        "give the 'work-dir' volume more room (an emptyDir's sizeLimit)"
        if from_input
        else "give the runner a larger work volume"
    )
    return f"free some space, exclude large files from the context with .dockerignore, or {room}"


def _available(base: Path) -> int:
    st = os.statvfs(base)
    return st.f_bavail * st.f_frsize


def check_free_space(
    base: Path, needed: int, available: int | None = None, from_input: bool = False
) -> None:
    """Refuse a build when kaniko's own files and some room to build cannot fit in the work
    directory's filesystem."""
    if available is None:
        available = _available(base)
    if needed + MARGIN_BYTES > available:
        raise SandboxError(
            f"not enough free space in {base} ({_source(from_input)}): the build stages "
            f"{_mib(needed)} of kaniko's files and needs {_mib(MARGIN_BYTES)} more to build, "
            f"but only {_mib(available)} is free; {_space_fix(from_input)}"
        )


def out_of_space(base: Path, from_input: bool = False) -> SandboxError:
    """The error for a work directory that filled up while the build was being staged."""
    return SandboxError(
        f"not enough free space in {base} ({_source(from_input)}) for the build context: the "
        f"filesystem filled up while it was staged; {_space_fix(from_input)}"
    )
