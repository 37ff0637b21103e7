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


def test_benchmark_smoke_run(tmp_path: Path) -> None:
    unused = tmp_path / "workspace"
    unused.mkdir()
    before = HostSnapshot.take(unused, tmp_path)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--scale", "0.002",
         "--rounds", "1", "--cases", "1,2", "--work", str(tmp_path),
         "--executor-dir", str(executor_dir("upstream"))],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith(("| 1.", "| 2."))]
    assert len(rows) == 2, proc.stdout
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        # v2 recipe, kaniko alone, action, ratios, overhead, placing, clean-up, rest.
        assert all(c != "n/a" for c in cells[1:10]), row
    assert "kaniko's own files" in proc.stdout
    assert before.changes() == []


def test_options_benchmark_smoke_run(tmp_path: Path) -> None:
    """benchmarks/options.py on busybox, one round: every variant builds and is reported,
    and its tmpfs is unmounted again."""
    unused = tmp_path / "workspace"
    unused.mkdir()
    before = HostSnapshot.take(unused, tmp_path)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "options.py"), "--rounds", "1",
         "--base", "busybox", "--work", str(tmp_path),
         "--executor-dir", str(executor_dir("upstream"))],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith(("| run-heavy", "| two"))]
    assert len(rows) == 6, proc.stdout
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(c.endswith(" s") for c in cells[2:6]), row
    assert before.changes() == []


@pytest.mark.slow
def test_peers_benchmark_smoke_run(tmp_path: Path) -> None:
    """benchmarks/peers.py, one round of the RUN-heavy build: BuildKit (a Docker daemon of
    its own), buildah, kaniko alone and the action each build and push, the table has their
    ratios, and nothing of theirs is left on the machine."""
    unused = tmp_path / "workspace"
    unused.mkdir()
    before = HostSnapshot.take(unused, tmp_path)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "peers.py"), "--rounds", "1",
         "--workloads", "run", "--work", str(tmp_path), "--executor", "upstream"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (row,) = [line for line in proc.stdout.splitlines() if line.startswith("| one stage")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert all(c.endswith(" s") for c in cells[1:5]), row
    assert all(c.endswith("x") for c in cells[5:9]), row
    assert list(tmp_path.iterdir()) == [unused]
    assert before.changes() == []
