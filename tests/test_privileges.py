"""Re-running through sudo when not root."""

from __future__ import annotations

import sys

from kaniko_action.privileges import elevation_argv


def test_elevation_keeps_interpreter_script_and_environment() -> None:
    argv = elevation_argv("/a/entrypoint.py", ["x"], "/usr/bin/sudo")
    assert argv == [
        "/usr/bin/sudo",
        "-n",
        "--preserve-env",
        sys.executable,
        "/a/entrypoint.py",
        "x",
    ]
