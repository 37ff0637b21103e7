"""A cancelled run (SIGINT/SIGTERM from the runner) stops kaniko and removes the sandbox."""

from __future__ import annotations

import signal
import time

import pytest

from .support.action import ActionHarness
from .support.hostcheck import HostSnapshot, executor_processes
from .support.registry import Registry

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_signal_during_run_step_cleans_up(
    harness: ActionHarness, registry: Registry, busybox_image: str, signum: int
) -> None:
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\nRUN sleep 300 & sleep 301; echo not-reached\n",
    )
    before = HostSnapshot.take(harness.workspace, harness.runner_temp)
    proc = harness.start(tags=f"{registry.host}/e2e/cancel:1", insecure_registries=registry.host)
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line)
        if "Running: [/bin/sh -c sleep 300" in line:
            break
    else:
        pytest.fail("the RUN step never started:\n" + "".join(seen))
    time.sleep(0.5)
    assert executor_processes(), "the build should be running"
    started = time.monotonic()
    proc.send_signal(signum)
    rest, _ = proc.communicate(timeout=60)
    elapsed = time.monotonic() - started
    output = "".join(seen) + rest
    assert proc.returncode == 128 + signum, output
    assert f"::error title=Cancelled::cancelled by signal {signum}" in output
    assert "not-reached" not in output.splitlines()
    assert elapsed < 20, f"cleanup took {elapsed:.1f}s"
    assert list(harness.runner_temp.iterdir()) == []
    assert registry.client().tags("e2e/cancel") == []
    assert before.changes() == []
