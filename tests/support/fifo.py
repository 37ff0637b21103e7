"""Calling something that must refuse a fifo without opening it for a blocking read."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest


def error_without_waiting(fifo: Path, call: Callable[[], object], seconds: float = 10) -> Exception:
    """What `call` raises, on a thread; if it is still blocked (opening `fifo` for reading, say)
    after `seconds`, the fifo gets a writer so the thread can end, and the test fails."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as e:
            outcome.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=seconds)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(timeout=seconds)
        pytest.fail(f"blocked for {seconds} s on the fifo {fifo}")
    (result,) = outcome
    if not isinstance(result, Exception):
        pytest.fail(f"returned {result!r} instead of refusing the fifo {fifo}")
    return result
