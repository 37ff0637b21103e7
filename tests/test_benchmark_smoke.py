"""Quick runs of the benchmarks on tiny inputs: each runs and prints its table.

The real benchmarks (full sizes, several rounds) are not part of the suite; see
docs/performance.md."""

from __future__ import annotations

import shutil
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


@pytest.mark.slow
def test_memory_benchmark_smoke_run(tmp_path: Path) -> None:
    """benchmarks/memory.py on tiny contexts, staging traced too: every context builds, and
    the action's process, the executor and the Stage phase are measured."""
    out = run_benchmark(
        tmp_path, "memory.py", "--scale", "0.01", "--cases", "1k,100m,ignored", "--trace",
        "--executor-dir", str(executor_dir("upstream")), timeout=300,
    )  # fmt: skip
    rows = [line for line in out.splitlines() if line.startswith(("| 1,", "| 100 ", "| 50,"))]
    assert len(rows) == 3, out
    for row in rows:
        # files, bytes, action python, executor, its anon, others, wait4, Stage, traced.
        values = cells(row)[1:]
        assert all(v != "n/a" for v in values), row
        action, executor, wait4 = (float(values[i]) for i in (2, 3, 6))
        assert 5 < action < 200 and 5 < executor <= wait4 + 1, row


@pytest.mark.slow
def test_registry_requests_benchmark_smoke_run(tmp_path: Path) -> None:
    """benchmarks/registry_requests.py on busybox: every build is tallied; a warm build with
    a local cache pulls none of the base's layers (the build that filled it pulled them
    once), nor does one with the base image in a cache-dir filled by kaniko's warmer (built
    with Go, where there is Go); kaniko alone with a registry cache pulls them all."""
    warmer = "build" if shutil.which("go") else "none"
    out = run_benchmark(
        tmp_path, "registry_requests.py", "--base", "busybox", "--warmer", warmer,
        "--executor", "upstream", timeout=600,
    )  # fmt: skip
    rows = {cells(line)[0]: cells(line)[1:] for line in out.splitlines() if line.startswith("| ")}
    layer_gets = list(rows["build"]).index("base layer GETs")
    assert rows["action, type=local: the build that fills it"][layer_gets] == "1", out
    assert rows["action, type=local: nothing changed"][layer_gets] == "0", out
    assert rows["action, type=local: one file changed"][layer_gets] == "0", out
    assert rows["kaniko alone, registry cache: nothing changed"][layer_gets] == "1", out
    if warmer == "build":
        assert rows["action, type=local + cache-dir: one file changed"][layer_gets] == "0", out
        assert rows["action, cache-dir, no layer cache: one file changed"][layer_gets] == "1", out
    assert list(tmp_path.iterdir()) == [tmp_path / "workspace"]
