#!/usr/bin/env python3
"""The action's start-up cost: from the step's start to its first decision, as root and as the
official runner image's user (uid 1001) through sudo, for one or two checkouts side by side.

Run as root from the repository:

    python3 benchmarks/startup.py [--rounds 30] [--against DIR]

Each run is the composite step as the runner starts it, with one invalid input (`push:
maybe`): the action starts, becomes root (through `sudo -n` for uid 1001), reads its inputs
and stops with an error annotation before any work directory exists. Nothing is built. The
`python3 -c pass` rows are the interpreter's own floor in the same wrapper. `--against DIR`
adds the same rows for another checkout of the action (an older commit, say), alternating
runs of the two.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.runner_user import Job, RunnerMachine  # noqa: E402

PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable


def _timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if "input 'push'" not in done.stdout and argv[-1] != "pass":
        raise SystemExit(f"unexpected run of {argv}:\n{done.stdout}{done.stderr}")
    return elapsed


def _root_run(action: Path) -> list[str]:
    return [PYTHON, str(action / "entrypoint.py")]


def _root_env(workspace: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "GITHUB_WORKSPACE": str(workspace), "INPUT_PUSH": "maybe"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--against", type=Path, help="another checkout of the action")
    args = parser.parse_args(argv)
    actions = {"this checkout": ROOT}
    if args.against is not None:
        actions[f"{args.against}"] = args.against.resolve()

    work = Path(tempfile.mkdtemp(prefix="kaniko-build-startup-"))
    try:
        workspace = work / "workspace"
        workspace.mkdir()
        machine = RunnerMachine(work / "machine")
        jobs = {
            label: Job(machine, repository=f"app{i}", source=path, ref=f"ref{i}")
            for i, (label, path) in enumerate(actions.items())
        }
        times: dict[tuple[str, str], list[float]] = {}

        def record(label: str, how: str, seconds: float) -> None:
            times.setdefault((label, how), []).append(seconds)

        floor_sudo = machine.command(["sudo", "-n", PYTHON, "-c", "pass"], 1001, "/")
        for _ in range(args.rounds):
            record("python3 -c pass", "as root", _timed([PYTHON, "-c", "pass"]))
            record(
                "python3 -c pass", "uid 1001 + sudo", _timed(floor_sudo, {"PATH": "/usr/bin:/bin"})
            )
            for label, path in actions.items():
                record(label, "as root", _timed(_root_run(path), _root_env(workspace)))
                command, env, _files = jobs[label].prepare({"push": "maybe"})
                record(label, "uid 1001 + sudo", _timed(command, env))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("| action | as root | uid 1001 + sudo |")
    print("| --- | ---: | ---: |")
    for label in ["python3 -c pass", *actions]:
        cells = [f"{statistics.median(times[(label, how)]) * 1000:,.0f} ms"
                 for how in ("as root", "uid 1001 + sudo")]  # fmt: skip
        print(f"| {label} | {' | '.join(cells)} |")
    print(f"\nmedians of {args.rounds} runs; the uid 1001 rows include the test namespace's "
          "unshare and setpriv wrapper, as the python3 -c pass row does")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
