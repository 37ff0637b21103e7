#!/usr/bin/env python3
"""Side-by-side benchmark: the old v2 recipe, kaniko alone, and the action.

Run as root from the repository (kaniko only ever runs inside a throw-away chroot):

    sudo python3 benchmarks/bench.py [--rounds 5] [--cases 1,2,3,4] [--executor-dir DIR]

It generates four contexts, each built by `FROM scratch` + `COPY . /app` without pushing:
  1. a small context (10 files);
  2. a big context mostly ignored: node_modules (20,000 files, 400 MiB) in .dockerignore next
     to 50 files;
  3. 20,000 small included files;
  4. a few large included files (1 GiB in all).
Each round runs, in an order that rotates from round to round:
  - v2 recipe: the recipe the project grew out of (copy /kaniko and the whole context into a
    fresh directory, device nodes and /etc files, then `chroot . ./kaniko/executor ...`);
  - kaniko alone: the same executor and flags as the action, in a chroot prepared beforehand
    with the whole context (the floor);
  - action: `python3 entrypoint.py` as a workflow step runs it, from start to exit.
and, on their own, the action's placing of the context (`placing`), a run of the action
traced with strace for process starts and exits (its wall time minus the executor's build
run is its overhead) and one traced for file creation (the time from its start to the first
file it stages). It prints medians, ratios and the targets it was written for.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kaniko_action.cancellation import CancelState  # noqa: E402
from kaniko_action.executor.argv import executor_invocation  # noqa: E402
from kaniko_action.sandbox.chroot import Sandbox  # noqa: E402
from kaniko_action.sandbox.kaniko_files import HELPER_PREFIX  # noqa: E402
from kaniko_action.sandbox.layout import ChrootLayout, chroot_layout, host_path  # noqa: E402
from kaniko_action.spec.build_spec import BuildSpec, build_spec  # noqa: E402
from kaniko_action.spec.inputs import DEFAULTS, env_name  # noqa: E402
from kaniko_action.staging.files import stage_cache_dir, stage_context  # noqa: E402
from kaniko_action.utils.filecopy import Copier  # noqa: E402
from kaniko_action.utils.fs import remove_tree  # noqa: E402

DOCKERFILE = "FROM scratch\nCOPY . /app\n"
VARIANTS = ("v2 recipe", "kaniko alone", "action")
MiB = 1 << 20


# ------------------------------------------------------------------ the contexts


@dataclass(frozen=True)
class Case:
    number: int
    title: str
    make: Callable[[Path, float], None]


def _files(base: Path, prefix: str, count: int, size: int, per_dir: int) -> None:
    block = random.Random(count * 7919 + size).randbytes(max(size, 1))
    for index in range(count):
        directory = base / prefix / f"d{index // per_dir:04d}"
        if index % per_dir == 0:
            directory.mkdir(parents=True, exist_ok=True)
        data = block[index % 97 :] + block[: index % 97]
        (directory / f"f{index:05d}.js").write_bytes(data[:size])


def _big_files(base: Path, count: int, size: int) -> None:
    block = random.Random(42).randbytes(MiB)
    for index in range(count):
        with open(base / f"large-{index}.bin", "wb") as f:
            written = 0
            while written < size:
                chunk = block[: min(MiB, size - written)]
                f.write(chunk)
                written += len(chunk)


def make_small(ws: Path, scale: float) -> None:
    for index in range(9):
        (ws / f"file{index}.txt").write_text(f"small file {index}\n" * 40)


def make_ignored(ws: Path, scale: float) -> None:
    count = max(20, int(20_000 * scale))
    _files(ws, "node_modules", count, int(400 * MiB / 20_000), 50)
    _files(ws, "src", 50, 1024, 10)
    (ws / ".dockerignore").write_text("node_modules\n")


def make_many(ws: Path, scale: float) -> None:
    _files(ws, "src", max(20, int(20_000 * scale)), 1024, 100)


def make_large(ws: Path, scale: float) -> None:
    _big_files(ws, 4, max(MiB, int(256 * MiB * scale)))


CASES = {
    1: Case(1, "small context (10 files)", make_small),
    2: Case(2, "node_modules ignored (20,000 files, 400 MiB) + 50 files", make_ignored),
    3: Case(3, "20,000 small included files", make_many),
    4: Case(4, "4 large included files (1 GiB)", make_large),
}


def prepare_workspace(
    key: str, make: Callable[[Path, float], None], cases_dir: Path, scale: float, dockerfile: str
) -> Path:
    """The workspace `key` at `scale` under `cases_dir`, made by `make` once (a marker file
    says it is complete), with `dockerfile` as its Dockerfile."""
    ws = cases_dir / f"{key}-{scale}"
    done = cases_dir / f"{key}-{scale}.done"
    if not done.exists():
        if ws.exists():
            shutil.rmtree(ws)
        ws.mkdir(parents=True)
        make(ws, scale)
        (ws / "Dockerfile").write_text(dockerfile)
        done.write_text("")
    return ws


def prepare(case: Case, cases_dir: Path, scale: float) -> Path:
    return prepare_workspace(str(case.number), case.make, cases_dir, scale, DOCKERFILE)


# ------------------------------------------------------------------ the contenders

V2_RECIPE = r"""
set -e
mkdir "$ROOTDIR"
cd "$ROOTDIR"
cp -r "$EXECUTOR_DIR" kaniko
mkdir -p dev proc/self etc/ssl/certs
mknod dev/null c 1 3
mknod dev/zero c 1 5
cp /proc/self/mountinfo proc/self/
if [ -n "$FORK_EXE" ]; then ln -s /kaniko/executor proc/self/exe; fi
cp /etc/resolv.conf /etc/nsswitch.conf etc/
cat /etc/ssl/certs/* > etc/ssl/certs/ca-certificates.crt 2>/dev/null || true
cp -r "$CONTEXT" kaniko/workspace
chroot . ./kaniko/executor -f /kaniko/workspace/Dockerfile --context=/kaniko/workspace/ \
  --force --no-push --cleanup
"""


def run_kaniko_alone(spec: BuildSpec, work: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    """The executor on its own, with the action's command line, in a chroot (made in `work`)
    prepared beforehand with the whole context (and the spec's `cache-dir`, as a volume
    would give it): nothing but its own run is timed. Its seconds and the finished process
    (output captured)."""
    layout = chroot_layout(spec.paths)
    invocation = executor_invocation(spec, layout)
    with Sandbox(work, CancelState()) as sandbox:
        root = str(sandbox.root)
        sandbox.populate(layout, spec.executor_dir)
        shutil.copytree(spec.paths.context, host_path(root, layout.context_dir), symlinks=True)
        if spec.cache_dir is not None:
            stage_cache_dir(root, spec.cache_dir, layout)

        def enter() -> None:  # the executor path exists only in the chroot
            os.chroot(root)
            os.chdir("/")

        started = time.perf_counter()
        proc = subprocess.run(
            list(invocation.argv),
            env=invocation.env,
            preexec_fn=enter,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        return time.perf_counter() - started, proc


@dataclass
class Bench:
    work: Path
    executor_dir: Path
    python: str
    fork: bool
    results: dict[tuple[int, str], list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def record(self, case: int, what: str, seconds: float) -> None:
        self.results.setdefault((case, what), []).append(seconds)

    def v2_recipe(self, case: int, ws: Path) -> None:
        rootdir = self.work / "v2-root"
        env = {
            **os.environ,
            "ROOTDIR": str(rootdir),
            "EXECUTOR_DIR": str(self.executor_dir),
            "CONTEXT": str(ws),
            "FORK_EXE": "1" if self.fork else "",
        }
        started = time.perf_counter()
        proc = subprocess.run(["bash", "-c", V2_RECIPE], env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        remove_tree(rootdir)
        if proc.returncode != 0:
            raise SystemExit(f"v2 recipe failed on case {case}:\n{proc.stdout}\n{proc.stderr}")
        self.record(case, "v2 recipe", elapsed)

    def _spec_and_layout(self, ws: Path) -> tuple[BuildSpec, ChrootLayout]:
        raw = dict(DEFAULTS)
        raw.update({"push": "false", "executor-dir": str(self.executor_dir)})
        spec = build_spec(raw, str(ws))
        return spec, chroot_layout(spec.paths)

    def kaniko_alone(self, case: int, ws: Path) -> None:
        spec, _layout = self._spec_and_layout(ws)
        elapsed, proc = run_kaniko_alone(spec, self.work / "floor")
        if proc.returncode != 0:
            raise SystemExit(f"kaniko alone failed on case {case}:\n{proc.stdout}{proc.stderr}")
        self.record(case, "kaniko alone", elapsed)

    def _action_env(self, ws: Path, output: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
        env.update(
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(ws),
                "RUNNER_TEMP": str(self.work / "runner-temp"),
                "GITHUB_OUTPUT": str(output),
                env_name("push"): "false",
                env_name("executor-dir"): str(self.executor_dir),
            }
        )
        return env

    def action(self, case: int, ws: Path) -> None:
        output = self.work / "github-output"
        output.write_text("")
        (self.work / "runner-temp").mkdir(exist_ok=True)
        started = time.perf_counter()
        proc = subprocess.run(
            [self.python, str(ROOT / "entrypoint.py")],
            env=self._action_env(ws, output),
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"the action failed on case {case}:\n{proc.stdout}\n{proc.stderr}")
        text = output.read_text()
        metadata = json.loads(text[text.index("{") : text.rindex("}") + 1])
        self.record(case, "action", elapsed)
        self.record(case, "action: clean-up", metadata["phases"].get("Clean up", 0.0))

    def placing(self, case: int, ws: Path) -> None:
        spec, layout = self._spec_and_layout(ws)
        scratch = self.work / "placing"
        (scratch / layout.kaniko_dir.relative_to("/")).mkdir(parents=True)
        started = time.perf_counter()
        report = stage_context(str(scratch), spec.paths, layout)
        elapsed = time.perf_counter() - started
        remove_tree(scratch)
        self.record(case, "placing", elapsed)
        self.record(case, "kept files", float(report.files))

    def _traced(self, ws: Path, calls: str) -> list[tuple[float, str, str]] | None:
        """The action run under strace: (time, pid, event) for `calls` and every exit."""
        strace = shutil.which("strace")
        if strace is None:
            return None
        output = self.work / "github-output"
        output.write_text("")
        trace = self.work / "strace.txt"
        proc = subprocess.run(
            [strace, "-f", "--seccomp-bpf", "-ttt", "-e", f"trace={calls}",
             "-o", str(trace), self.python, str(ROOT / "entrypoint.py")],
            env=self._action_env(ws, output), capture_output=True, text=True,
        )  # fmt: skip
        if proc.returncode != 0:
            return None
        events = []
        for line in trace.read_text().splitlines():
            parts = line.split(None, 2)
            if len(parts) == 3:
                events.append((float(parts[1]), parts[0], parts[2]))
        return events

    def executor_share(self, case: int, ws: Path) -> None:
        """The action's wall time and the executor's build run in it, from one traced run
        (only process starts and exits are traced, so the run is barely slowed)."""
        events = self._traced(ws, "execve")
        if not events:
            return
        build_pid, start = None, None
        for stamp, pid, event in events:
            if build_pid is None and event.startswith("execve(") and "--dockerfile=" in event:
                build_pid, start = pid, stamp
            elif pid == build_pid and event.startswith("+++ exited") and start is not None:
                self.record(case, "traced: action", events[-1][0] - events[0][0])
                self.record(case, "traced: executor", stamp - start)
                return

    def first_file(self, case: int, ws: Path) -> None:
        """From the interpreter's start to the first file staged (strace timestamps)."""
        events = self._traced(ws, "execve,openat")
        if not events:
            return
        start = events[0][0]
        for stamp, _pid, event in events:
            if "/kaniko-build-" in event and "/root/" in event and "O_CREAT" in event:
                self.record(case, "first file", stamp - start)
                return

    def kaniko_files(self) -> None:
        """What copying and removing kaniko's own files costs per build: the executor, and
        no credential helper (these builds' docker config names none)."""
        for _ in range(5):
            target = self.work / "kaniko-files"
            target.mkdir()
            copier = Copier()
            started = time.perf_counter()
            for entry in os.scandir(self.executor_dir):
                if entry.is_file() and not entry.name.startswith(HELPER_PREFIX):
                    copier.copy_file(entry.path, target / entry.name, follow_symlinks=True)
            copied = time.perf_counter() - started
            started = time.perf_counter()
            remove_tree(target)
            removed = time.perf_counter() - started
            self.record(0, "kaniko files: copy", copied)
            self.record(0, "kaniko files: remove", removed)
            self.record(0, "kaniko files: MiB", copier.stats.bytes_copied / MiB)
            self.record(0, "kaniko files: reflinked", float(copier.stats.reflinked))


# ------------------------------------------------------------------ the report


def median(bench: Bench, case: int, what: str) -> float | None:
    values = bench.results.get((case, what))
    return statistics.median(values) if values else None


def ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 1000:,.0f} ms"


def ratio(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or not b else f"{a / b:.2f}x"


def report(bench: Bench, cases: list[int], rounds: int) -> list[str]:
    lines = [
        f"medians of {rounds} round(s); executor {bench.executor_dir}",
        "",
        "| case | v2 recipe | kaniko alone | action | action / v2 | action / kaniko alone "
        "| overhead | placing | clean-up | rest | first file |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    failures: list[str] = []
    for case in cases:
        v2, floor, action = (median(bench, case, v) for v in VARIANTS)
        traced, executor = (
            median(bench, case, "traced: action"),
            median(bench, case, "traced: executor"),
        )
        overhead = None if traced is None or executor is None else traced - executor
        placing = median(bench, case, "placing")
        cleanup = median(bench, case, "action: clean-up")
        net = None
        if overhead is not None and placing is not None and cleanup is not None:
            net = overhead - placing - cleanup
        first = median(bench, case, "first file")
        lines.append(
            f"| {case}. {CASES[case].title} | {ms(v2)} | {ms(floor)} | {ms(action)} "
            f"| {ratio(action, v2)} | {ratio(action, floor)} | {ms(overhead)} | {ms(placing)} "
            f"| {ms(cleanup)} | {ms(net)} | {ms(first)} |"
        )
        if case == 2 and action is not None and v2 is not None and action > 0.1 * v2:
            failures.append(
                f"case 2: the action takes {ratio(action, v2)} of the v2 recipe (target 0.1x)"
            )
        if case == 2 and action is not None and floor is not None and action > 1.5 * floor:
            failures.append(
                f"case 2: the action takes {ratio(action, floor)} of kaniko alone (target 1.5x)"
            )
        if net is not None and net > 0.150:
            failures.append(
                f"case {case}: overhead beyond placing and clean-up is {ms(net)} (target 150 ms)"
            )
        if first is not None and first > 0.100:
            failures.append(f"case {case}: first staged file after {ms(first)} (target 100 ms)")
    copy = median(bench, 0, "kaniko files: copy")
    if copy is not None:
        size = median(bench, 0, "kaniko files: MiB") or 0.0
        reflinked = (median(bench, 0, "kaniko files: reflinked") or 0.0) > 0
        lines += [
            "",
            f"kaniko's own files ({size:.0f} MiB), per build: copy {ms(copy)}, "
            f"remove {ms(median(bench, 0, 'kaniko files: remove'))} "
            f"({'reflinks' if reflinked else 'no reflinks on this filesystem: bytes copied'})",
        ]
    lines += [
        "",
        "overhead: the action's wall time minus the executor's build run (traced); placing:",
        "staging the context on its own; clean-up: the action's Clean up phase (deleting the",
        "chroot, with the staged context and what kaniko wrote into it); rest: the overhead",
        "beyond both; first file: from the interpreter's start to the first file staged.",
        "",
    ]
    lines += [f"target missed: {f}" for f in failures] or ["all targets met"]
    return lines


def installed_executor(kind: str) -> Path:
    """The executor scripts/install-executors.sh built: `upstream` or `fork`."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    version = {"upstream": "upstream-v1.24.0", "fork": "fork-v1.27.5"}[kind]
    return cache / "kaniko-build" / "executors" / version / "kaniko"


def executor_choice(choice: str) -> Path:
    """`upstream`, `fork` (as installed) or a directory laid out like the executor image's
    /kaniko; exits when it holds no executor."""
    path = installed_executor(choice) if choice in ("upstream", "fork") else Path(choice)
    if not (path / "executor").is_file():
        raise SystemExit(f"no executor at {path}: run scripts/install-executors.sh")
    return path


def add_machine_arguments(parser: argparse.ArgumentParser, work: str = "where to work") -> None:
    """--python (the interpreter that runs the action) and --work (where the benchmark works,
    `work` saying what it must be), as every benchmark takes them."""
    system = Path("/usr/bin/python3")
    parser.add_argument("--python", default=str(system) if system.exists() else sys.executable,
                        help="interpreter that runs the action (default: the system python3)")  # fmt: skip
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()),
                        help=f"{work} (default: the system's temporary directory)")  # fmt: skip


def default_executor_dir() -> Path:
    if (Path("/kaniko") / "executor").is_file():
        return Path("/kaniko")
    return installed_executor("upstream")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", default="1,2,3,4")
    parser.add_argument("--executor-dir", type=Path, default=None)
    add_machine_arguments(parser)
    parser.add_argument("--keep", action="store_true",
                        help="keep the generated contexts in WORK for the next run")  # fmt: skip
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the contexts (smoke runs)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("run as root: kaniko runs in a chroot")
    executor_dir = (args.executor_dir or default_executor_dir()).resolve()
    if not (executor_dir / "executor").is_file():
        parser.error(f"no executor in {executor_dir} (use --executor-dir)")
    cases = [int(c) for c in args.cases.split(",") if c.strip()]
    args.work.mkdir(parents=True, exist_ok=True)
    work = Path(os.path.realpath(tempfile.mkdtemp(prefix="kaniko-build-bench-", dir=args.work)))
    cases_dir = args.work / "kaniko-build-bench-cases" if args.keep else work / "cases"
    fork = b"osscontainertools" in (executor_dir / "executor").read_bytes()
    bench = Bench(work=work, executor_dir=executor_dir, python=args.python, fork=fork)
    # As after the action's first run on a runner: its modules compiled once.
    subprocess.run([args.python, "-m", "compileall", "-q", str(ROOT / "kaniko_action")], check=True)
    try:
        contexts = {c: prepare(CASES[c], cases_dir, args.scale) for c in cases}
        bench.kaniko_files()
        order = list(VARIANTS)
        for round_number in range(args.rounds):
            for case in cases:
                ws = contexts[case]
                for variant in order:
                    {"v2 recipe": bench.v2_recipe, "kaniko alone": bench.kaniko_alone,
                     "action": bench.action}[variant](case, ws)  # fmt: skip
                bench.placing(case, ws)
                bench.executor_share(case, ws)
                bench.first_file(case, ws)
            order = order[1:] + order[:1]
            print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr, flush=True)
        print("\n".join(report(bench, cases, args.rounds)))
    finally:
        remove_tree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
