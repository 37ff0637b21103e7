#!/usr/bin/env python3
"""Peak memory of the action against the size of its build context.

Run as root from the repository (kaniko only ever runs inside a throw-away chroot):

    sudo python3 benchmarks/memory.py [--cases 1k,10k,50k,100m,1g,ignored]
        [--executor-dir DIR] [--trace] [--scale 1.0]

It generates contexts of growing size, each built by `FROM scratch` + `COPY . /app` without
pushing, and runs the action from start to exit (`python3 entrypoint.py`, as a workflow step
runs it), which stages the context into its chroot (honouring .dockerignore) and runs the
executor there:

  - 1k, 10k, 50k: that many 1 KiB files, 100 to a directory;
  - 100m: 100 files of 1 MiB; 1g: 1,024 files of 1 MiB;
  - ignored: 50,000 files of 1 KiB under node_modules, in .dockerignore, next to 50 files.

Memory is each process's VmHWM (its resident set's high-water mark) in /proc/<pid>/status,
sampled every 10 ms for the action's process and all its descendants; the high-water mark
never goes down, so a sample misses only what a process reached in its last 10 ms. It
prints, per context: the action's own Python process, the executor (its build run, not the
version probe; also the most of its sampled RssAnon, memory not backed by files), the largest of the action's other processes (the guardian forked at the
sandbox's creation, the namespaces' init), the most any process of the tree reached as
wait4() reports it (ru_maxrss of the action and its reaped descendants: a check on the
samples), and the action's Stage phase (from its `metadata` output).

`--trace` also stages each context in this process under tracemalloc (into a scratch
directory, with the action's own code) and prints the most Python allocated meanwhile and
where the allocations still alive at that point were made.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench import add_machine_arguments, installed_executor, prepare_workspace  # noqa: E402
from kaniko_action.sandbox.layout import chroot_layout  # noqa: E402
from kaniko_action.spec.build_spec import build_spec  # noqa: E402
from kaniko_action.spec.inputs import DEFAULTS, env_name  # noqa: E402
from kaniko_action.staging.files import stage_context  # noqa: E402
from kaniko_action.utils.fs import remove_tree  # noqa: E402

DOCKERFILE = "FROM scratch\nCOPY . /app\n"
KiB = 1 << 10
MiB = 1 << 20
SAMPLE_SECONDS = 0.01


# ------------------------------------------------------------------ the contexts


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    make: Callable[[Path, float], None]


def small_files(base: Path, count: int, size: int, per_dir: int = 100) -> None:
    """`count` files of `size` bytes below `base`, `per_dir` to a directory."""
    block = random.Random(count).randbytes(size + 97)
    for index in range(count):
        directory = base / f"d{index // per_dir:04d}"
        if index % per_dir == 0:
            directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{index:05d}.js").write_bytes(block[index % 97 : index % 97 + size])


def _count(number: int, scale: float) -> int:
    return max(10, int(number * scale))


def make_ignored(ws: Path, scale: float) -> None:
    small_files(ws / "node_modules", _count(50_000, scale), KiB)
    small_files(ws / "src", 50, KiB)
    (ws / ".dockerignore").write_text("node_modules\n")


CASES = {
    case.name: case
    for case in (
        Case("1k", "1,000 files of 1 KiB", lambda ws, s: small_files(ws / "src", _count(1000, s), KiB)),
        Case("10k", "10,000 files of 1 KiB", lambda ws, s: small_files(ws / "src", _count(10_000, s), KiB)),
        Case("50k", "50,000 files of 1 KiB", lambda ws, s: small_files(ws / "src", _count(50_000, s), KiB)),
        Case("100m", "100 files of 1 MiB", lambda ws, s: small_files(ws / "data", _count(100, s), MiB, 50)),
        Case("1g", "1,024 files of 1 MiB", lambda ws, s: small_files(ws / "data", _count(1024, s), MiB, 64)),
        Case("ignored", "50,000 files ignored + 50", make_ignored),
    )
}  # fmt: skip


def prepare(case: Case, cases_dir: Path, scale: float) -> Path:
    return prepare_workspace(case.name, case.make, cases_dir, scale, DOCKERFILE)


def tree_size(ws: Path) -> tuple[int, int]:
    """Regular files in `ws` and their bytes, ignored or not."""
    files = size = 0
    for top, _dirs, names in os.walk(ws):
        for name in names:
            files += 1
            size += os.lstat(os.path.join(top, name)).st_size
    return files, size


# ------------------------------------------------------------------ the sampling


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(child) for child in f.read().split()]
    except OSError:  # gone meanwhile
        pass
    return found


def _memory_kib(pid: int) -> tuple[int, int] | None:
    """VmHWM and RssAnon of `pid`, in KiB."""
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "RssAnon:")):
                    found[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        pass
    if "VmHWM" not in found:
        return None  # gone, or a zombie (no memory left)
    return found["VmHWM"], found.get("RssAnon", 0)


def _argv(pid: int) -> tuple[str, ...]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return tuple(os.fsdecode(a) for a in f.read().split(b"\0") if a)
    except OSError:
        return ()


@dataclass
class TreePeaks:
    """The VmHWM of a process and of each of its descendants, sampled on a thread. A pid's
    program may change (exec); each (pid, argv) is one entry."""

    root: int
    peaks: dict[tuple[int, tuple[str, ...]], int] = field(default_factory=dict)
    anon: dict[tuple[int, tuple[str, ...]], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        pending = [self.root]
        while pending:
            pid = pending.pop()
            pending += _children(pid)
            argv = _argv(pid)
            memory = _memory_kib(pid)
            if memory is not None and argv:
                key = (pid, argv)
                self.peaks[key] = max(self.peaks.get(key, 0), memory[0])
                self.anon[key] = max(self.anon.get(key, 0), memory[1])

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def of(self, which: Callable[[int, tuple[str, ...]], bool], anon: bool = False) -> int | None:
        """The largest peak (KiB) among the entries `which(pid, argv)` accepts: of VmHWM,
        or with `anon` of the sampled RssAnon (the heap and stacks, no mapped files)."""
        peaks = self.anon if anon else self.peaks
        values = [v for (pid, argv), v in peaks.items() if which(pid, argv)]
        return max(values) if values else None


def is_executor_build(_pid: int, argv: tuple[str, ...]) -> bool:
    return (
        bool(argv)
        and argv[0].endswith("/executor")
        and any(a.startswith("--dockerfile") for a in argv)
    )


# ------------------------------------------------------------------ one run


@dataclass(frozen=True)
class Measured:
    files: int
    size: int
    action_kib: int | None
    executor_kib: int | None
    executor_anon_kib: int | None
    others_kib: int | None
    wait4_kib: int
    stage_seconds: float
    traced_kib: int | None = None


def run_action(
    python: str, ws: Path, work: Path, executor_dir: Path
) -> tuple[TreePeaks, int, dict[str, float]]:
    """One run of the action on `ws`: the peaks, wait4's ru_maxrss (KiB), the phases."""
    output = work / "github-output"
    output.write_text("")
    (work / "runner-temp").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env.update(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(ws),
            "RUNNER_TEMP": str(work / "runner-temp"),
            "GITHUB_OUTPUT": str(output),
            env_name("push"): "false",
            env_name("summary"): "false",
            env_name("executor-dir"): str(executor_dir),
        }
    )
    log = work / "action.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [python, str(ROOT / "entrypoint.py")], env=env, stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        peaks = TreePeaks(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        peaks.stop()
    if proc.returncode != 0:
        raise SystemExit(f"the action failed on {ws}:\n{log.read_text()[-4000:]}")
    text = output.read_text()
    metadata = json.loads(text[text.index("{") : text.rindex("}") + 1])
    return peaks, usage.ru_maxrss, dict(metadata["phases"])


def traced_staging(ws: Path, work: Path, executor_dir: Path) -> tuple[int, list[str]]:
    """Stage `ws` in this process under tracemalloc: the traced peak (KiB) and the sites of
    the allocations alive at the end that were made while staging."""
    raw = dict(DEFAULTS)
    raw.update({"push": "false", "executor-dir": str(executor_dir)})
    spec = build_spec(raw, str(ws))
    layout = chroot_layout(spec.paths)
    scratch = work / "traced"
    (scratch / layout.kaniko_dir.relative_to("/")).mkdir(parents=True)
    tracemalloc.start(4)
    try:
        before = tracemalloc.take_snapshot()
        stage_context(str(scratch), spec.paths, layout)
        _, peak = tracemalloc.get_traced_memory()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
        remove_tree(scratch)
    own = str(ROOT / "kaniko_action")
    grown = [
        f"{stat.size_diff / KiB:8.1f} KiB  {stat.count_diff:6d} blocks  {stat.traceback[0]}"
        for stat in after.compare_to(before, "lineno")
        if stat.size_diff > 0 and stat.traceback[0].filename.startswith(own)
    ]
    return peak // KiB, grown[:5]


def measure(
    python: str, ws: Path, work: Path, executor_dir: Path, trace: bool
) -> tuple[Measured, list[str]]:
    """One context: the action run on it, and (with `trace`) its staging traced here."""
    files, size = tree_size(ws)
    peaks, wait4_kib, phases = run_action(python, ws, work, executor_dir)
    traced, grown = traced_staging(ws, work, executor_dir) if trace else (None, [])

    def action(pid: int, _argv: tuple[str, ...]) -> bool:
        return pid == peaks.root

    def others(pid: int, argv: tuple[str, ...]) -> bool:
        return pid != peaks.root and not argv[0].endswith("/executor")

    measured = Measured(
        files=files,
        size=size,
        action_kib=peaks.of(action),
        executor_kib=peaks.of(is_executor_build),
        executor_anon_kib=peaks.of(is_executor_build, anon=True),
        others_kib=peaks.of(others),
        wait4_kib=wait4_kib,
        stage_seconds=phases.get("Stage", 0.0),
        traced_kib=traced,
    )
    return measured, grown


def mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / KiB:.1f}"


def report(rows: list[tuple[Case, Measured]]) -> list[str]:
    lines = [
        "| context | files | bytes | action python peak MiB | executor peak MiB "
        "| executor anon MiB | other processes MiB | wait4 max MiB | Stage s |"
        + (" traced staging peak KiB |" if any(m.traced_kib is not None for _, m in rows) else ""),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        + (" ---: |" if any(m.traced_kib is not None for _, m in rows) else ""),
    ]
    for case, m in rows:
        traced = "" if m.traced_kib is None else f" {m.traced_kib:,} |"
        lines.append(
            f"| {case.title} | {m.files:,} | {m.size / MiB:,.1f} MiB | {mib(m.action_kib)} "
            f"| {mib(m.executor_kib)} | {mib(m.executor_anon_kib)} | {mib(m.others_kib)} | {mib(m.wait4_kib)} "
            f"| {m.stage_seconds:.2f} |{traced}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--executor-dir", type=Path, default=None)
    add_machine_arguments(parser)
    parser.add_argument("--keep", action="store_true",
                        help="keep the generated contexts in WORK for the next run")  # fmt: skip
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the contexts (smoke runs)")
    parser.add_argument("--trace", action="store_true", help="also trace staging in-process")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("run as root: kaniko runs in a chroot")
    executor_dir = (args.executor_dir or installed_executor("upstream")).resolve()
    if not (executor_dir / "executor").is_file():
        parser.error(f"no executor in {executor_dir} (use --executor-dir)")
    names = [c for c in args.cases.split(",") if c]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        parser.error(f"unknown cases: {', '.join(unknown)} (known: {', '.join(CASES)})")
    args.work.mkdir(parents=True, exist_ok=True)
    work = Path(os.path.realpath(tempfile.mkdtemp(prefix="kaniko-build-memory-", dir=args.work)))
    cases_dir = args.work / "kaniko-build-memory-cases" if args.keep else work / "cases"
    subprocess.run([args.python, "-m", "compileall", "-q", str(ROOT / "kaniko_action")], check=True)
    rows: list[tuple[Case, Measured]] = []
    grown: dict[str, list[str]] = {}
    try:
        for name in names:
            case = CASES[name]
            ws = prepare(case, cases_dir, args.scale)
            measured, grown[case.title] = measure(args.python, ws, work, executor_dir, args.trace)
            rows.append((case, measured))
            print(f"{case.title}: done", file=sys.stderr, flush=True)
    finally:
        remove_tree(work)
    print(f"executor {executor_dir}; VmHWM sampled every {SAMPLE_SECONDS * 1000:.0f} ms")
    print()
    print("\n".join(report(rows)))
    for title, lines in grown.items():
        if lines:
            print(f"\n{title}: allocations made while staging, still alive after it:")
            print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
