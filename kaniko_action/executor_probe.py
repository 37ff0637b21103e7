"""Asking the executor about itself (`version`, `--help`) inside the chroot."""

from __future__ import annotations

from pathlib import Path

from .argv import Invocation, base_env
from .cancellation import CancelState
from .layout import ChrootLayout
from .process import run_in_chroot


def executor_output(
    root: Path, layout: ChrootLayout, cancel: CancelState, *args: str
) -> tuple[int, str]:
    """The executor's exit status and output for `args`, run chrooted into `root`."""
    lines: list[str] = []
    invocation = Invocation((str(layout.executor), *args), base_env(layout))
    status = run_in_chroot(root, invocation, lines.extend, cancel)
    return status, "\n".join(lines)
