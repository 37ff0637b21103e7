"""Soak: many builds in a row on one host, mixing success, failure and cancellation through
the step's shell at any moment, with the host checked after every one of them.

RUNNER_TEMP is a tmpfs of its own here, so "free space as before" can be checked exactly.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .support.action import ActionHarness
from .support.hostcheck import HostSnapshot, executor_processes
from .support.registry import Registry
from .support.runner_step import RunnerStep

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROUNDS = 20
KINDS = ("success", "failure", "cancel-in-run", "success", "cancel-anytime")


def mounts() -> list[str]:
    return sorted(
        line.split(" ")[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
    )


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_twenty_builds_in_a_row_leave_the_host_as_it_was(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write(
        "ok.Dockerfile", f"FROM {busybox_image}\nRUN echo ok > /ok\nCOPY ok.Dockerfile /\n"
    )
    harness.write("fail.Dockerfile", f"FROM {busybox_image}\nRUN echo failing && exit 7\n")
    harness.write(
        "slow.Dockerfile",
        f"FROM {busybox_image}\nRUN setsid sleep 600 > /dev/null 2>&1 &\nRUN sleep 300\n",
    )
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1g", "soak-runner-temp", str(harness.runner_temp)],
        check=True,
    )
    rng = random.Random(20)
    try:
        free = os.statvfs(harness.runner_temp).f_bavail
        mounted = mounts()
        before = HostSnapshot.take(harness.workspace, harness.runner_temp)
        seen: dict[str, int] = {}
        for round_ in range(ROUNDS):
            kind = KINDS[round_ % len(KINDS)]
            step = RunnerStep(
                harness.workspace, harness.runner_temp, harness.runner_temp.parent / "files"
            )
            common = {
                "insecure-registries": registry.host,
                "executor-dir": str(harness.executor_dir),
                "tags": f"{registry.host}/soak/{kind}:{round_}",
            }
            if kind == "success":
                step.start(file="ok.Dockerfile", **common)
                assert step.finish() == 0, step.text
            elif kind == "failure":
                step.start(file="fail.Dockerfile", **common)
                assert step.finish() == 1, step.text
                assert "exit status 7" in step.text
            else:
                step.start(file="slow.Dockerfile", **common)
                if kind == "cancel-in-run":
                    step.wait_for("Running: [/bin/sh -c sleep 300]")
                else:
                    time.sleep(rng.uniform(0.0, 1.5))
                result = step.cancel_like_the_runner()
                assert result.signals_sent == ["SIGINT"], step.text
                assert result.returncode in (0, 128 + signal.SIGINT), step.text
            seen[kind] = seen.get(kind, 0) + 1
            where = f"round {round_} ({kind})"
            assert list(harness.runner_temp.iterdir()) == [], where
            assert executor_processes(harness.runner_temp) == [], where
            assert mounts() == mounted, where
            assert os.statvfs(harness.runner_temp).f_bavail == free, where
            assert before.changes() == [], where
        assert seen == {"success": 8, "failure": 4, "cancel-in-run": 4, "cancel-anytime": 4}
        assert registry.client().tags("soak/cancel-in-run") == []
    finally:
        subprocess.run(["umount", str(harness.runner_temp)], check=False)
