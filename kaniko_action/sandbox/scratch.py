"""Scratch directories of the action's own (per-platform OCI layouts, the binfmt probe) where
the work directories go (RUNNER_TEMP, or the work-dir input): locked work directories like the
sandbox's, so that a run killed before it could remove one leaves it to the next run's
clean-up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from ..cancellation import CancelState
from . import workdirs
from .teardown import teardown


def _shield(cancel: CancelState | None) -> AbstractContextManager[None]:
    return cancel.shielded() if cancel is not None else nullcontext()


@contextmanager
def scratch_dir(base: Path, cancel: CancelState | None = None) -> Iterator[Path]:
    """A fresh, locked directory (0700) under `base`, removed with everything in it; a
    signal does not interrupt its creation or removal."""
    base.mkdir(parents=True, exist_ok=True)
    with _shield(cancel):
        lock = workdirs.create(base)
    try:
        yield lock.path
    finally:
        with _shield(cancel):
            try:
                teardown(lock.path)
            finally:
                lock.release()
