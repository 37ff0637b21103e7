"""Asking the executor about itself (`version`, `--help`) inside the chroot."""

from __future__ import annotations

from pathlib import Path

from .argv import Invocation, base_env
from .cancellation import CancelState
from .layout import ChrootLayout
from .process import Background, run_in_chroot
from .results import kaniko_version


def executor_output(
    root: Path, layout: ChrootLayout, cancel: CancelState, *args: str
) -> tuple[int, str]:
    """The executor's exit status and output for `args`, run chrooted into `root`."""
    lines: list[str] = []
    invocation = Invocation((str(layout.executor), *args), base_env(layout))
    status = run_in_chroot(root, invocation, lines.extend, cancel)
    return status, "\n".join(lines)


class VersionProbe:
    """`executor version`, run alongside the rest of the build's preparation and start (it
    takes as long as any Go program's start-up, which the build need not wait for)."""

    def __init__(self, root: Path, layout: ChrootLayout, cancel: CancelState) -> None:
        invocation = Invocation((str(layout.executor), "version"), base_env(layout))
        self._run = Background(root, invocation, cancel)

    def version(self) -> str | None:
        status, text = self._run.result()
        return kaniko_version(text) if status == 0 else None
