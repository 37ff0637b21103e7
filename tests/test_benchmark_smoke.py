"""A quick run of benchmarks/bench.py on tiny contexts: it runs and prints its table.

The real benchmark (full sizes, several rounds) is not part of the suite; see
docs/performance.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import executor_dir
from .support.hostcheck import HostSnapshot

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent


def run_benchmark(tmp_path: Path, script: str, *args: str, timeout: float = 600) -> str:
    """The output of `benchmarks/<script> ARGS --work tmp_path`, once it has succeeded and
    left the host as it was."""
    unused = tmp_path / "workspace"
    unused.mkdir()
    before = HostSnapshot.take(unused, tmp_path)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args, "--work", str(tmp_path)],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert before.changes() == []
    return proc.stdout


def cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip("|").split("|")]


def test_benchmark_smoke_run(tmp_path: Path) -> None:
    out = run_benchmark(
        tmp_path, "bench.py", "--scale", "0.002", "--rounds", "1", "--cases", "1,2",
        "--executor-dir", str(executor_dir("upstream")),
    )  # fmt: skip
    rows = [line for line in out.splitlines() if line.startswith(("| 1.", "| 2."))]
    assert len(rows) == 2, out
    for row in rows:
        # v2 recipe, kaniko alone, action, ratios, overhead, placing, clean-up, rest.
        assert all(c != "n/a" for c in cells(row)[1:10]), row
    assert "kaniko's own files" in out


def test_options_benchmark_smoke_run(tmp_path: Path) -> None:
    """benchmarks/options.py on busybox, one round: every variant builds and is reported,
    and its tmpfs is unmounted again."""
    out = run_benchmark(
        tmp_path, "options.py", "--rounds", "1", "--base", "busybox",
        "--executor-dir", str(executor_dir("upstream")),
    )  # fmt: skip
    rows = [line for line in out.splitlines() if line.startswith(("| run-heavy", "| two"))]
    assert len(rows) == 6, out
    for row in rows:
        assert all(c.endswith(" s") for c in cells(row)[2:6]), row


@pytest.mark.slow
def test_peers_benchmark_smoke_run(tmp_path: Path) -> None:
    """benchmarks/peers.py, one round of the RUN-heavy build: BuildKit (a Docker daemon of
    its own), buildah, kaniko alone and the action each build and push, the table has their
    ratios, and nothing of theirs is left on the machine."""
    out = run_benchmark(
        tmp_path, "peers.py", "--rounds", "1", "--workloads", "run", "--executor", "upstream",
        timeout=900,
    )  # fmt: skip
    (row,) = [line for line in out.splitlines() if line.startswith("| one stage")]
    assert all(c.endswith(" s") for c in cells(row)[1:5]), row
    assert all(c.endswith("x") for c in cells(row)[5:9]), row
    assert list(tmp_path.iterdir()) == [tmp_path / "workspace"]
