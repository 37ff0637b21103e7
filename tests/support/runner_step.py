"""Running the action's composite step exactly as actions/runner runs it, and cancelling it the
same way.

The runner writes a `run:` step's script to a file and starts `bash --noprofile --norc -e -o
pipefail FILE` with the step's `env:` and the workspace as working directory. To cancel a
step it signals that one process only (its ProcessInvoker): SIGINT, then SIGTERM 7.5 s later,
then SIGKILL 2.5 s after that. Nothing else gets a signal; at the end of the job the runner
kills processes that still carry its RUNNER_TRACKING_ID.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kaniko_action.spec.inputs import env_name

from .action import SUITE_INPUTS
from .proc import start_text

ROOT = Path(__file__).resolve().parents[2]
SIGINT_TO_SIGTERM = 7.5
SIGTERM_TO_SIGKILL = 2.5
_STEP_ENV = re.compile(r"^\$\{\{ inputs\.([a-z0-9-]+) \}\}$")


def composite_step() -> tuple[str, dict[str, str]]:
    """The action's build step: its script, and the value each `env:` entry gets when no
    input is given (the input's default, as the runner evaluates `${{ inputs.x }}`; the
    steps around it, for the GitHub Actions cache, do not run then)."""
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    (step,) = [s for s in action["runs"]["steps"] if s.get("id") == "build"]
    assert step["shell"] == "bash"
    defaults: dict[str, str] = {}
    for variable, expression in step["env"].items():
        match = _STEP_ENV.match(expression)
        if match is None:
            assert expression.startswith("${{ steps.gha-restore."), expression
            defaults[variable] = ""
            continue
        defaults[variable] = str(action["inputs"][match.group(1)].get("default", ""))
    return step["run"], defaults


@dataclass
class Cancellation:
    """What happened when the runner's cancel sequence was played against a step."""

    signals_sent: list[str]
    exited_after: float
    returncode: int


@dataclass
class RunnerStep:
    """The composite step of the action, run in `workspace` with RUNNER_TEMP `runner_temp`."""

    workspace: Path
    runner_temp: Path
    files: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    # A command the step runs under, as exec's (capsh dropping capabilities): same process.
    wrapper: list[str] = field(default_factory=list)
    proc: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    def env(self, inputs: dict[str, str]) -> dict[str, str]:
        _script, defaults = composite_step()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("INPUT_", "GITHUB_", "RUNNER_"))
        }
        env.update(
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_ACTION_PATH": str(ROOT),
                "GITHUB_WORKSPACE": str(self.workspace),
                "RUNNER_TEMP": str(self.runner_temp),
                "RUNNER_TRACKING_ID": f"github_{uuid.uuid4()}",
                "GITHUB_OUTPUT": str(self.files / "output"),
                "GITHUB_STEP_SUMMARY": str(self.files / "summary"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        # Every input, as the runner evaluates `${{ inputs.x }}`: the value or its default.
        env.update(defaults)
        for name, value in {**SUITE_INPUTS, **inputs}.items():
            variable = env_name(name)
            assert variable in defaults, f"no input {name}"
            env[variable] = value
        return env

    def start(self, **inputs: str) -> subprocess.Popen[str]:
        """Start the step (underscores in input names stand for hyphens)."""
        named = {k.replace("_", "-"): v for k, v in inputs.items()}
        self.files.mkdir(parents=True, exist_ok=True)
        for name in ("output", "summary"):
            (self.files / name).write_text("")
        script, _ = composite_step()
        script_file = self.files / f"{uuid.uuid4()}.sh"
        script_file.write_text(script + "\n", encoding="utf-8")
        # The runner's own process group is not the step's business: signals below go to
        # the step's pid only, as the runner sends them.
        self.proc = start_text(
            [
                *self.wrapper,
                "bash",
                "--noprofile",
                "--norc",
                "-e",
                "-o",
                "pipefail",
                str(script_file),
            ],
            self.env(named),
            cwd=self.workspace,
        )
        self.output = []
        return self.proc

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def wait_for(self, text: str, timeout: float = 120) -> None:
        """Read the step's output until a line contains `text`."""
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        for line in self.proc.stdout:
            self.output.append(line)
            if text in line:
                return
            if time.monotonic() > deadline:
                break
        raise AssertionError(f"{text!r} never appeared:\n{''.join(self.output)}")

    def cancel_like_the_runner(self) -> Cancellation:
        """SIGINT to the step's process; SIGTERM 7.5 s later; SIGKILL 2.5 s after that."""
        assert self.proc is not None
        sent: list[str] = []
        started = time.monotonic()
        plan = [
            (signal.SIGINT, SIGINT_TO_SIGTERM),
            (signal.SIGTERM, SIGTERM_TO_SIGKILL),
            (signal.SIGKILL, 30.0),
        ]
        for sig, wait in plan:
            if self.proc.poll() is not None:
                break
            os.kill(self.proc.pid, sig)
            sent.append(sig.name)
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        exited = time.monotonic() - started
        rest = self.proc.stdout.read() if self.proc.stdout else ""
        self.output.append(rest)
        return Cancellation(sent, exited, self.proc.wait())

    def finish(self, timeout: float = 300) -> int:
        assert self.proc is not None
        rest, _ = self.proc.communicate(timeout=timeout)
        self.output.append(rest)
        return self.proc.returncode

    @property
    def text(self) -> str:
        return "".join(self.output)


def wait_until(predicate: object, timeout: float, interval: float = 0.1) -> bool:
    """Poll `predicate` (a callable returning a truthy value) until it holds or time runs out."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
