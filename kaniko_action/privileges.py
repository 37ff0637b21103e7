"""Becoming root: chroot and mknod need it. The official runner image runs as `runner` with
passwordless sudo, so a non-root run re-executes itself through `sudo -n`."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence

from .errors import SandboxError

REEXEC_MARK = "KANIKO_BUILD_ELEVATED"


def elevation_argv(script: str, argv: Sequence[str], sudo: str) -> list[str]:
    """`sudo` keeping the environment (inputs, GITHUB_* files) for the same interpreter."""
    return [sudo, "-n", "--preserve-env", sys.executable, script, *argv]


def ensure_root(script: str, argv: Sequence[str]) -> None:
    """Return when root; otherwise replace this process with a sudo run of the same script."""
    if os.geteuid() == 0:
        return
    sudo = shutil.which("sudo")
    if sudo is None or os.environ.get(REEXEC_MARK):
        raise SandboxError(
            "kaniko-build needs root (for chroot and device nodes): run the runner as root, "
            "or give its user passwordless sudo"
        )
    # sudo keeps this process's pid: the re-run knows its parent by it.
    os.environ[REEXEC_MARK] = str(os.getpid())
    os.execv(sudo, elevation_argv(script, argv, sudo))


def sudo_parent() -> int | None:
    """The pid of the sudo this process was re-run through, if it was."""
    mark = os.environ.get(REEXEC_MARK, "")
    return int(mark) if mark.isdigit() else None
