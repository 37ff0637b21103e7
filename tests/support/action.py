"""Running the action the way the runner runs a composite step: a process with INPUT_* set."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kaniko_action.spec.inputs import env_name

from .hostcheck import HostSnapshot

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 900
# What every test run passes unless it says otherwise: the suite's builds push. A test of
# the real default passes push="", which is what the runner gives a step that leaves
# `push` out (build-push-action's default: no push).
SUITE_INPUTS = {"push": "true"}


def parse_file_command(text: str) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT file as the runner does (`name=value` or `name<<DELIM` blocks)."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            while lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            i += 1
            values[name] = "\n".join(body)
        else:
            name, value = line.split("=", 1)
            values[name] = value
    return values


@dataclass
class ActionRun:
    returncode: int
    stdout: str
    outputs: dict[str, str]
    summary: str
    host_changes: list[str] = field(default_factory=list)


@dataclass
class ActionHarness:
    """A workspace and runner temp directory, and a way to run the action in them."""

    workspace: Path
    runner_temp: Path
    executor_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    # A command the action runs under (capsh dropping a capability, a mount namespace).
    wrapper: list[str] = field(default_factory=list)
    timeout: float = RUN_TIMEOUT

    def write(self, relative: str, text: str) -> Path:
        path = self.workspace / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def env(self, inputs: dict[str, str], files: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
        env.update(
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(self.workspace),
                "RUNNER_TEMP": str(self.runner_temp),
                "GITHUB_OUTPUT": str(files / "output"),
                "GITHUB_STEP_SUMMARY": str(files / "summary"),
                env_name("executor-dir"): str(self.executor_dir),
            }
        )
        env.update(self.extra_env)
        env.update({env_name(k): v for k, v in {**SUITE_INPUTS, **inputs}.items()})
        return env

    def start(self, **inputs: str) -> subprocess.Popen[str]:
        """Start the action without waiting; output is line-buffered text on stdout."""
        named = {k.replace("_", "-"): v for k, v in inputs.items()}
        files = self.runner_temp.parent / "files"
        files.mkdir(exist_ok=True)
        return subprocess.Popen(
            [sys.executable, "-u", str(ROOT / "entrypoint.py")],
            env=self.env(named, files),
            cwd=self.workspace,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )

    def run(self, **inputs: str) -> ActionRun:
        """Run entrypoint.py with `inputs` (underscores stand for hyphens in input names)."""
        named = {k.replace("_", "-"): v for k, v in inputs.items()}
        files = self.runner_temp.parent / "files"
        files.mkdir(exist_ok=True)
        for name in ("output", "summary"):
            (files / name).write_text("")
        before = HostSnapshot.take(self.workspace, self.runner_temp)
        proc = subprocess.run(
            [*self.wrapper, sys.executable, str(ROOT / "entrypoint.py")],
            env=self.env(named, files),
            cwd=self.workspace,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        print(proc.stdout)
        return ActionRun(
            returncode=proc.returncode,
            stdout=proc.stdout,
            outputs=parse_file_command((files / "output").read_text()),
            summary=(files / "summary").read_text(),
            host_changes=before.changes(),
        )
