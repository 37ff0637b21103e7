"""Asking the executor about itself (`version`, `--help`) inside the chroot."""

from __future__ import annotations

import re
from pathlib import Path

from ..cancellation import CancelState
from ..sandbox.layout import ChrootLayout
from .argv import Invocation, base_env
from .process import Background, run_in_chroot


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


def kaniko_version(output: str) -> str | None:
    """`Kaniko version :  v1.24.0` -> `v1.24.0`."""
    match = re.search(r"version\s*:\s*(\S+)", output, re.IGNORECASE)
    return match.group(1) if match else None


def offers_secrets(help_text: str) -> bool:
    """Whether an executor's `--help` lists the `--secret` flag."""
    return re.search(r"(?m)^\s*(?:-\w, )?--secret\b", help_text) is not None
