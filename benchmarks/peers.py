#!/usr/bin/env python3
"""The action next to its peers: BuildKit (`docker build`), buildah, kaniko alone and the
action, on the same base image from a local registry, each tool pushing its result.

Run as root from the repository (kaniko only ever runs inside a throw-away chroot; BuildKit
and buildah need root too):

    sudo python3 benchmarks/peers.py [--rounds 3] [--workloads cold,warm,run]
        [--tools buildkit,buildah,kaniko,action] [--executor upstream|fork|DIR] [--memory]

What it starts, all on 127.0.0.1 and below its work directory: a registry (Debian's
`docker-registry`) holding a debootstrapped Debian base (one layer), and a Docker daemon
(Debian's `docker.io`, BuildKit built in) with no bridge network, every build with
`--network host`. The workloads:

- cold: a two-stage app (2,000 source files compiled, in stand-in form, by the first stage
  and copied into the second), every tool's cache emptied first;
- warm: the same after one source file changed, with each tool's best cache from a build
  just before: BuildKit's and buildah's local layer caches, kaniko alone with a registry
  cache (`--cache-repo`, as kaniko users set it up), the action with a local cache
  directory (`cache-from: type=local,src=DIR`, `cache-to: type=local,dest=DIR`);
- run: one stage, four RUN steps on the base.

Rounds alternate the tools, in an order that rotates from round to round; the table gives
medians, each tool's ratio to BuildKit, and the action's ratio to kaniko alone. `--memory`
puts the work area of kaniko alone and of the action (RUNNER_TEMP) on a tmpfs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench import executor_choice, run_kaniko_alone  # noqa: E402
from kaniko_action.spec.build_spec import build_spec  # noqa: E402
from kaniko_action.spec.inputs import DEFAULTS, env_name  # noqa: E402
from tests.support.dockerd import Dockerd  # noqa: E402
from tests.support.images import push_debian  # noqa: E402
from tests.support.registry import Registry  # noqa: E402

TOOLS = ("buildkit", "buildah", "kaniko", "action")
WORKLOADS = ("cold", "warm", "run")
TITLES = {
    "cold": "two-stage app, 2,000-file context, cold",
    "warm": "the same, one source file changed, cache on",
    "run": "one stage, four RUN steps on the base",
}
SOURCES = 2000
# The Docker 20.10 client of Debian's docker.io: it drives BuildKit without buildx.
DOCKER = "/usr/bin/docker"

APP = """\
FROM {base} AS build
COPY src /src
RUN find /src -type f | sort | xargs cat | sha256sum > /digest && cp -r /src /out
FROM {base}
COPY --from=build /out /app
COPY --from=build /digest /app/digest
"""
RUN_HEAVY = """\
FROM {base}
RUN dd if=/dev/zero of=/zeros bs=1M count=32 status=none
RUN seq 1 200000 > /numbers && sort -r /numbers > /sorted
RUN mkdir /many && for i in $(seq 1 500); do echo "$i" > /many/$i; done
RUN rm /zeros && ls -R / > /listing 2>/dev/null || true
"""


def make_app(ws: Path, base: str) -> None:
    for index in range(SOURCES):
        directory = ws / "src" / f"m{index // 100:02d}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{index:04d}.c").write_text(f"int f{index}(void) {{ return {index}; }}\n")
    (ws / "Dockerfile").write_text(APP.format(base=base))


def change_one_source(ws: Path, round_: int) -> None:
    (ws / "src" / "m00" / "f0000.c").write_text(f"int f0(void) {{ return {round_ + 1}; }}\n")


def make_run_heavy(ws: Path, base: str) -> None:
    ws.mkdir(parents=True, exist_ok=True)
    (ws / "Dockerfile").write_text(RUN_HEAVY.format(base=base))


def _check(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout[-4000:]}")
    return done.stdout


@dataclass
class Peers:
    work: Path
    registry: Registry
    docker: Dockerd | None
    executor_dir: Path
    python: str
    runner_temp: Path
    results: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    # -------------------------------------------------------------- the tools

    def buildkit(self, ws: Path, ref: str, cached: bool) -> None:
        assert self.docker is not None
        env = {**self.docker.env(), "DOCKER_BUILDKIT": "1"}
        if not cached:
            _check([DOCKER, "builder", "prune", "-af"], env)
        _check([DOCKER, "build", "-q", "--network", "host", "-t", ref, str(ws)], env)
        _check([DOCKER, "push", "-q", ref], env)

    def _buildah(self, *args: str) -> list[str]:
        return [
            "buildah", "--root", str(self.work / "buildah" / "root"),
            "--runroot", str(self.work / "buildah" / "run"), "--storage-driver", "overlay",
            *args,
        ]  # fmt: skip

    def _buildah_env(self) -> dict[str, str]:
        """buildah's environment: a containers.conf of the benchmark's own, whose network
        configuration directory is in the work directory (buildah otherwise makes
        /etc/cni/net.d and a lock file there on its first build, even with host networking)."""
        conf = self.work / "buildah" / "containers.conf"
        if not conf.exists():
            conf.parent.mkdir(parents=True, exist_ok=True)
            network = self.work / "buildah" / "cni"
            conf.write_text(f'[network]\nnetwork_config_dir = "{network}"\n')
        return {**os.environ, "CONTAINERS_CONF": str(conf)}

    def buildah(self, ws: Path, ref: str, cached: bool) -> None:
        env = self._buildah_env()
        if not cached:
            _check(self._buildah("rmi", "--all", "--force"), env)
        _check(self._buildah(
            "bud", "--quiet", "--layers", "--isolation", "chroot", "--network", "host",
            "--tls-verify=false", "-t", ref, str(ws),
        ), env)  # fmt: skip
        _check(self._buildah("push", "--quiet", "--tls-verify=false", ref), env)

    def _raw(self, ws: Path, ref: str, cached: bool, local: bool = False) -> dict[str, str]:
        raw = dict(DEFAULTS)
        raw.update(
            {
                "tags": ref,
                "push": "true",
                "insecure-registries": self.registry.host,
                "executor-dir": str(self.executor_dir),
            }
        )
        if cached and local:
            # Docker's documented local cache, the action's best: a directory on the runner.
            directory = self.work / f"local-cache-{ws.name}"
            raw.update(
                {
                    "cache-from": f"type=local,src={directory}",
                    "cache-to": f"type=local,dest={directory}",
                }
            )
        elif cached:
            raw.update({"cache": "true", "cache-repo": self.registry.ref("peers/cache")})
        return raw

    def kaniko(self, ws: Path, ref: str, cached: bool) -> float:
        """The executor on its own with the action's command line (what int128/kaniko-action
        users give `docker run` of the executor image); only its own run is timed."""
        spec = build_spec(self._raw(ws, ref, cached), str(ws))
        elapsed, done = run_kaniko_alone(spec, self.runner_temp / "alone")
        if done.returncode != 0:
            raise SystemExit(f"kaniko alone failed:\n{(done.stdout + done.stderr)[-4000:]}")
        return elapsed

    def action(self, ws: Path, ref: str, cached: bool) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
        output = self.work / "github-output"
        output.write_text("")
        env.update({env_name(k): v for k, v in self._raw(ws, ref, cached, local=True).items()})
        env.update(
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(ws),
                "RUNNER_TEMP": str(self.runner_temp),
                "GITHUB_OUTPUT": str(output),
            }
        )
        _check([self.python, str(ROOT / "entrypoint.py")], env)

    # -------------------------------------------------------------- the rounds

    def timed(self, workload: str, tool: str, ws: Path, ref: str, cached: bool) -> float:
        """Seconds of one build: the tool's own figure when it times itself (kaniko alone),
        else the whole call."""
        run: Callable[[Path, str, bool], float | None] = getattr(self, tool)
        started = time.perf_counter()
        own = run(ws, ref, cached)
        return time.perf_counter() - started if own is None else own

    def round(self, number: int, workloads: list[str], tools: list[str], cases: Path) -> None:
        order = tools[number % len(tools) :] + tools[: number % len(tools)]
        base = self.registry.ref("base/debian", "bookworm")
        for workload in workloads:
            for tool in order:
                ws = cases / f"{workload}-{tool}"
                if ws.exists():
                    shutil.rmtree(ws)
                ref = self.registry.ref(f"peers/{tool}-{workload}", str(number))
                if workload == "run":
                    make_run_heavy(ws, base)
                    seconds = self.timed(workload, tool, ws, ref, cached=False)
                else:
                    make_app(ws, base)
                    cached = workload == "warm"
                    if cached:  # the build the rebuild starts from, untimed
                        self.timed(workload, tool, ws, ref, cached=True)
                        change_one_source(ws, number)
                    seconds = self.timed(workload, tool, ws, ref, cached=cached)
                self.results.setdefault((workload, tool), []).append(seconds)
                print(f"round {number + 1}: {workload:5} {tool:8} {seconds:6.1f} s", flush=True)

    def table(self, workloads: list[str], tools: list[str]) -> str:
        head = ["workload", *tools]
        if "buildkit" in tools:
            head += [f"{t} / buildkit" for t in tools if t != "buildkit"]
        if "kaniko" in tools and "action" in tools:
            head.append("action / kaniko alone")
        lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
        for workload in workloads:
            median = {t: statistics.median(self.results[(workload, t)]) for t in tools}
            cells = [TITLES[workload], *(f"{median[t]:.1f} s" for t in tools)]
            if "buildkit" in tools:
                cells += [
                    f"{median[t] / median['buildkit']:.2f}x" for t in tools if t != "buildkit"
                ]
            if "kaniko" in tools and "action" in tools:
                cells.append(f"{median['action'] / median['kaniko']:.2f}x")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


@contextmanager
def _tmpfs(path: Path) -> Iterator[Path]:
    path.mkdir(parents=True)
    _check(["mount", "-t", "tmpfs", "-o", "size=8g,mode=0755", "tmpfs", str(path)])
    try:
        yield path
    finally:
        _check(["umount", str(path)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--executor", default="fork", help="upstream, fork or a kaniko dir")
    parser.add_argument("--memory", action="store_true", help="work area on a tmpfs")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--python", default="/usr/bin/python3")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root (sudo python3 benchmarks/peers.py)")
    workloads = [w for w in args.workloads.split(",") if w]
    tools = [t for t in args.tools.split(",") if t]
    for name in workloads + tools:
        if name not in WORKLOADS + TOOLS:
            raise SystemExit(f"unknown workload or tool: {name}")
    needs = {"buildkit": "dockerd", "buildah": "buildah"}
    missing = [needs[t] for t in tools if t in needs and shutil.which(needs[t]) is None]
    if missing:
        raise SystemExit(f"missing: {', '.join(missing)} (apt-get install docker.io buildah)")
    work = Path(tempfile.mkdtemp(prefix="peers-", dir=args.work))
    try:
        with ExitStack() as stack:
            registry = stack.enter_context(Registry.start(work / "registry"))
            push_debian(registry)
            docker = (
                stack.enter_context(Dockerd.start(work / "dockerd"))
                if "buildkit" in tools
                else None
            )
            temp = stack.enter_context(_tmpfs(work / "memory")) if args.memory else work / "temp"
            temp.mkdir(exist_ok=True)
            peers = Peers(work, registry, docker, executor_choice(args.executor), args.python, temp)
            for number in range(args.rounds):
                peers.round(number, workloads, tools, work / "cases")
            print()
            where = "tmpfs" if args.memory else "disk"
            print(
                f"{args.rounds} rounds, executor {args.executor}, work area of kaniko and the action on {where}:"
            )
            print(peers.table(workloads, tools))
    finally:
        buildah_root = work / "buildah"
        if buildah_root.exists():
            subprocess.run(
                ["buildah", "--root", str(buildah_root / "root"), "--runroot",
                 str(buildah_root / "run"), "rm", "--all"], capture_output=True, check=False,
            )  # fmt: skip
            subprocess.run(["umount", "-R", str(buildah_root / "root" / "overlay")],
                           capture_output=True, check=False)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
