"""Running test commands the one way the support code needs: no stdin, stdout and stderr
together as text; and a context-manager base for helpers that hold something to close."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

T = TypeVar("T", bound="Closing")


def run_text(
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    timeout: float | None,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run to the end; the exit status is the caller's to judge."""
    return subprocess.run(
        list(argv),
        env=None if env is None else dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_text(
    argv: Sequence[str], env: Mapping[str, str] | None, cwd: str | Path | None = None
) -> subprocess.Popen[str]:
    """Start in a session of its own (signals sent to it reach it alone), line-buffered."""
    return subprocess.Popen(
        list(argv),
        env=None if env is None else dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,
    )


class Closing:
    """`with helper:` closes it at the end."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: T) -> T:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
