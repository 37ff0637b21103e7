#!/usr/bin/env python3
"""What `single-snapshot` and a memory-backed `work-dir` buy, and what clean-up costs.

Run as root from the repository (kaniko only ever runs inside a throw-away chroot):

    sudo python3 benchmarks/options.py [--rounds 3] [--executor-dir DIR] [--base debian]

It starts a local registry (the test suite's, tests/support/registry.py) with the suite's
base image (a debootstrapped Debian, 121 MB, or busybox), then runs the action from start to
exit, as a workflow step runs it, pushing to that registry, on two Dockerfiles:

  - run-heavy: one stage, six RUN steps each writing 4 MiB;
  - two-stage: a builder stage and a final stage on the same base (the e2e suite's
    multi-stage build).

Each is built with the work directory on this machine's disk (RUNNER_TEMP) and on a tmpfs
the benchmark mounts (`work-dir`; mount -t tmpfs -o size=2g, unmounted at the end); the
run-heavy one also with `single-snapshot: true`. Variants alternate, their order rotating
from round to round. It prints, per variant, the medians of the wall time and of the
action's phases (from its `metadata` output): Build is the executor's run until the push,
Push the rest of it, Clean up the deletion of the work directory; and the most the work
directory's filesystem held above its starting use (sampled; the disk's figure also counts
whatever else the machine wrote meanwhile).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench import add_machine_arguments, installed_executor  # noqa: E402
from kaniko_action.spec.inputs import env_name  # noqa: E402
from kaniko_action.utils.fs import remove_tree  # noqa: E402
from tests.support.images import default_cache_dir, push_busybox, push_debian  # noqa: E402
from tests.support.registry import Registry  # noqa: E402

RUN_HEAVY = "FROM {base}\n" + "".join(
    f"RUN mkdir -p /opt/steps && head -c 4194304 /dev/urandom > /opt/steps/{n}.bin\n"
    for n in range(1, 7)
)
TWO_STAGE = """\
FROM {base} AS builder
RUN head -c 64 /dev/urandom | od -An -tx1 > /tmp/random.hex
RUN mkdir -p /usr/local/share/built && echo built-in-builder > /usr/local/share/built/marker \\
 && echo "builder-host" > /etc/builder-marker && rm -f /usr/bin/apt-cache
FROM {base}
COPY --from=builder /usr/local/share/built/marker /usr/share/from-builder
COPY --from=builder /tmp/random.hex /opt/random.hex
RUN echo final-etc > /etc/final-marker && rm -rf /usr/share/doc
"""
DOCKERFILES = {"run-heavy": RUN_HEAVY, "two-stage": TWO_STAGE}
PHASES = ("Build", "Push", "Clean up")


@dataclass(frozen=True)
class Variant:
    dockerfile: str
    label: str
    tmpfs: bool
    inputs: tuple[tuple[str, str], ...] = ()


VARIANTS = (
    Variant("run-heavy", "disk", tmpfs=False),
    Variant("run-heavy", "disk, single-snapshot", tmpfs=False, inputs=(("single-snapshot", "true"),)),
    Variant("run-heavy", "tmpfs work-dir", tmpfs=True),
    Variant("run-heavy", "tmpfs work-dir, single-snapshot", tmpfs=True, inputs=(("single-snapshot", "true"),)),
    Variant("two-stage", "disk", tmpfs=False),
    Variant("two-stage", "tmpfs work-dir", tmpfs=True),
)  # fmt: skip


class PeakUse:
    """The most a filesystem held above what it held at the start, sampled every 20 ms."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = self._used()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _used(self) -> int:
        st = os.statvfs(self.path)
        return (st.f_blocks - st.f_bfree) * st.f_frsize

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._used() - self.start)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_action(
    python: str,
    workspace: Path,
    runner_temp: Path,
    output: Path,
    inputs: dict[str, str],
) -> tuple[float, dict[str, float]]:
    """One run of the action: its wall time and its phases."""
    output.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env.update(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "RUNNER_TEMP": str(runner_temp),
            "GITHUB_OUTPUT": str(output),
        }
    )
    env.update({env_name(k): v for k, v in inputs.items()})
    started = time.perf_counter()
    proc = subprocess.run(
        [python, str(ROOT / "entrypoint.py")], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"the action failed with {inputs}:\n{proc.stdout}\n{proc.stderr}")
    text = output.read_text()
    metadata = json.loads(text[text.index("{") : text.rindex("}") + 1])
    return elapsed, dict(metadata["phases"])


def seconds(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s" if values else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--executor-dir", type=Path, default=None)
    parser.add_argument("--base", choices=("debian", "busybox"), default="debian")
    parser.add_argument("--only", default="", help="comma-separated Dockerfiles to build")
    add_machine_arguments(parser, "where to work, on disk")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("run as root: kaniko runs in a chroot, and the tmpfs is mounted")
    executor_dir = (args.executor_dir or installed_executor("upstream")).resolve()
    if not (executor_dir / "executor").is_file():
        parser.error(f"no executor in {executor_dir} (use --executor-dir)")
    only = {name for name in args.only.split(",") if name}
    variants = [v for v in VARIANTS if not only or v.dockerfile in only]
    args.work.mkdir(parents=True, exist_ok=True)
    work = Path(os.path.realpath(tempfile.mkdtemp(prefix="options-bench-", dir=args.work)))
    memory = work / "memory"
    memory.mkdir()
    mounted = False
    # (Dockerfile, variant, what) -> one value per round.
    results: dict[tuple[str, str, str], list[float]] = {}

    def add(variant: Variant, what: str, value: float) -> None:
        results.setdefault((variant.dockerfile, variant.label, what), []).append(value)

    def get(variant: Variant, what: str) -> list[float]:
        return results[(variant.dockerfile, variant.label, what)]

    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2g", "kaniko-build-bench", str(memory)],
            check=True,
        )
        mounted = True
        with Registry.start(work / "registry") as registry:
            if args.base == "debian":
                push_debian(registry, default_cache_dir(), "base/debian", "bookworm")
                base = registry.ref("base/debian", "bookworm")
            else:
                push_busybox(registry, "base/busybox", "latest")
                base = registry.ref("base/busybox", "latest")
            runner_temp = work / "runner-temp"
            runner_temp.mkdir()
            workspaces = {}
            for name in {v.dockerfile for v in variants}:
                workspaces[name] = work / name
                workspaces[name].mkdir()
                (workspaces[name] / "Dockerfile").write_text(DOCKERFILES[name].format(base=base))
            subprocess.run([args.python, "-m", "compileall", "-q", str(ROOT / "kaniko_action")],
                           check=True)  # fmt: skip
            order = list(variants)
            for round_number in range(args.rounds):
                for variant in order:
                    inputs = {
                        "tags": f"{registry.host}/bench/{variant.dockerfile}:latest",
                        "insecure-registries": registry.host,
                        "executor-dir": str(executor_dir),
                        "summary": "false",
                        **dict(variant.inputs),
                    }
                    if variant.tmpfs:
                        inputs["work-dir"] = str(memory)
                    peak = PeakUse(memory if variant.tmpfs else runner_temp)
                    elapsed, phases = run_action(
                        args.python,
                        workspaces[variant.dockerfile],
                        runner_temp,
                        work / "github-output",
                        inputs,
                    )
                    add(variant, "peak", peak.stop() / (1 << 20))
                    add(variant, "wall", elapsed)
                    for phase in PHASES:
                        add(variant, phase, phases.get(phase, 0.0))
                order = order[1:] + order[:1]
                print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    finally:
        if mounted:
            subprocess.run(["umount", str(memory)], check=True)
        remove_tree(work)

    print(f"medians of {args.rounds} round(s); executor {executor_dir}; base {args.base}")
    print()
    print(
        "| Dockerfile | work directory, options | wall | Build | Push | Clean up | peak use "
        "| wall, each round |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")  # fmt: skip
    for variant in variants:
        walls = get(variant, "wall")
        cells = [seconds(get(variant, p)) for p in PHASES]
        each = ", ".join(f"{w:.2f}" for w in walls)
        peak_use = f"{max(get(variant, 'peak')):,.0f} MiB"
        print(f"| {variant.dockerfile} | {variant.label} | {seconds(walls)} | {' | '.join(cells)} | {peak_use} | {each} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
