#!/usr/bin/env python3
"""The requests a registry receives for one build: cold, warm with a layer cache, and warm
with base images pre-pulled into `cache-dir` by kaniko's warmer.

Run as root from the repository (kaniko and its warmer only ever run inside a throw-away
chroot):

    sudo python3 benchmarks/registry_requests.py [--executor upstream|fork|DIR]
        [--base debian|busybox] [--warmer build|none|PATH]

It starts a local registry (Debian's `docker-registry` on 127.0.0.1, tests/support/
registry.py) holding the test suite's base image (a debootstrapped Debian, one layer, or
busybox), and builds one Dockerfile on it, pushing to the same registry:

    FROM <base>
    RUN echo built > /built.txt
    COPY src /src
    RUN ls -lR /src > /listing.txt

once per row below, in this order (each row starts from what the rows before it left):

  - the action: no cache; then with `cache-from: type=local,src=DIR` and `cache-to:
    type=local,dest=DIR` (the same DIR): the build that fills it, a rebuild with nothing
    changed, a rebuild with one source file changed;
  - kaniko's warmer, in a chroot of its own, filling a runner directory with the base image;
  - the action with that directory as `cache-dir` and the local layer cache: nothing changed,
    one file changed, and one file changed with the base named by digest; then `cache-dir`
    without any layer cache (`cache` off);
  - kaniko alone (the executor in a chroot prepared beforehand, benchmarks/bench.py) with a
    registry cache (`--cache-repo` in the same registry, as kaniko users set it up): the
    build that fills it, nothing changed, one file changed, and one file changed with the
    same `cache-dir`.

The registry's access log gives each request's method, path, status and response size. Each
build's requests are sorted by what they are for: the base image's manifest (GET, HEAD), its
config blob, its layer blobs (GETs and bytes: the pull the question is about), whoever asks
(kaniko, or the action pulling the base into kaniko's base-image cache), the layer
cache in the registry (manifest lookups, hits and misses; GETs of the cached entries'
blobs; existence checks and uploads of new entries), the push of the image (the push
permission check, blob existence checks, uploads, mounts, manifests), the action's own
requests (its user agent: it reads the manifest it pushed), and the rest (`GET /v2/`). `--warmer build` (the default) builds the warmer of kaniko
v1.27.5 with Go into the work directory, from the module cache as
scripts/install-executors.sh builds the executors; `none` leaves the cache-dir rows out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench import add_machine_arguments, executor_choice, run_kaniko_alone  # noqa: E402
from kaniko_action.cancellation import CancelState  # noqa: E402
from kaniko_action.registry.client import USER_AGENT  # noqa: E402
from kaniko_action.sandbox.chroot import Sandbox  # noqa: E402
from kaniko_action.sandbox.layout import chroot_layout, host_path  # noqa: E402
from kaniko_action.spec.build_spec import build_spec  # noqa: E402
from kaniko_action.spec.inputs import DEFAULTS, env_name  # noqa: E402
from kaniko_action.utils.filecopy import copy_tree  # noqa: E402
from kaniko_action.utils.fs import remove_tree  # noqa: E402
from tests.support.images import default_cache_dir, push_busybox, push_debian  # noqa: E402
from tests.support.registry import Registry  # noqa: E402

DOCKERFILE = """\
FROM {base}
RUN echo built > /built.txt
COPY src /src
RUN ls -lR /src > /listing.txt
"""
RUN_ONLY = """\
FROM {base}
RUN echo built > /built.txt
RUN echo more > /more.txt
"""
SOURCES = 20
WARMER_MODULE = "github.com/osscontainertools/kaniko"
WARMER_VERSION = "v1.27.5"
BASE_REPO = "base/image"
CACHE_REPO = "bench/cache"
APP_REPO = "bench/app"
MiB = 1 << 20
# 127.0.0.1 - - [02/Jan/2026:16:49:24 +0000] "GET /v2/... HTTP/1.1" 200 527 "" "agent"
ACCESS = re.compile(
    r'^\S+ - \S+ \[[^\]]*\] "(?P<method>[A-Z]+) (?P<uri>\S+) HTTP/[0-9.]+" '
    r'(?P<status>\d{3}) (?P<size>\d+|-) "[^"]*" "(?P<agent>[^"]*)"'
)
PATH = re.compile(r"^/v2/(?P<repo>.+?)/(?P<kind>manifests|blobs)/(?P<rest>.*)$")


# ------------------------------------------------------------------ the log


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    status: int
    size: int
    agent: str


def read_requests(log: Path, offset: int) -> tuple[list[Request], int]:
    """The access-log entries written to `log` after byte `offset`, and the new offset."""
    with open(log, "rb") as f:
        f.seek(offset)
        data = f.read()
    found = []
    for line in data.decode("utf-8", "replace").splitlines():
        match = ACCESS.match(line)
        if match is None:
            continue
        path, _, query = match["uri"].partition("?")
        size = 0 if match["size"] == "-" else int(match["size"])
        found.append(
            Request(match["method"], path, query, int(match["status"]), size, match["agent"])
        )
    return found, offset + len(data)


@dataclass(frozen=True)
class Base:
    """The digests of the base image, to tell its requests from the others."""

    manifest: str
    config: str
    layers: frozenset[str]
    compressed: int  # its layers' bytes in the registry


COLUMNS = (
    "base manifest GET/HEAD", "base config GET", "base layer GETs", "base layer MiB",
    "cache lookups (hit/miss)", "cache blob GETs", "cache uploads", "push requests",
    "action's own", "other", "all",
)  # fmt: skip


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    layer_bytes: int = 0
    cache_bytes: int = 0
    hits: int = 0
    misses: int = 0
    requests: list[Request] = field(default_factory=list)

    def add(self, request: Request, base: Base) -> None:
        self.requests.append(request)
        self.counts["all"] += 1
        match = PATH.match(request.path)
        reading = request.method in ("GET", "HEAD")
        # The base image's requests, whoever makes them: with a local cache the action pulls
        # it into kaniko's base-image cache itself.
        base_read = match is not None and match["repo"] == BASE_REPO and reading
        if request.agent.startswith(USER_AGENT) and not base_read:
            self.counts["action's own"] += 1
            return
        if match is None:  # /v2/ and the like: pings and auth
            self.counts["other"] += 1
            return
        repo, kind, rest = match["repo"], match["kind"], match["rest"]
        if repo == BASE_REPO and reading:
            if kind == "manifests":
                self.counts[f"base manifest {request.method}"] += 1
            elif rest == base.config and request.method == "GET":
                self.counts["base config GET"] += 1
            elif rest in base.layers and request.method == "GET":
                self.counts["base layer GETs"] += 1
                self.layer_bytes += request.size
            else:
                self.counts["other"] += 1
        elif repo == CACHE_REPO and kind == "manifests" and reading:
            self.counts["cache lookups"] += 1
            if request.status == 200:
                self.hits += 1
            else:
                self.misses += 1
        elif repo == CACHE_REPO and kind == "blobs" and request.method == "GET":
            self.counts["cache blob GETs"] += 1
            self.cache_bytes += request.size
        elif repo == CACHE_REPO:  # existence checks and uploads of new entries
            self.counts["cache uploads"] += 1
        elif repo == APP_REPO:
            self.counts["push requests"] += 1
        else:
            self.counts["other"] += 1

    def cells(self) -> list[str]:
        c = self.counts
        return [
            f"{c['base manifest GET']}/{c['base manifest HEAD']}",
            str(c["base config GET"]),
            str(c["base layer GETs"]),
            f"{self.layer_bytes / MiB:.1f}",
            f"{c['cache lookups']} ({self.hits}/{self.misses})",
            f"{c['cache blob GETs']} ({self.cache_bytes / 1024:.1f} KiB)",
            str(c["cache uploads"]),
            str(c["push requests"]),
            str(c["action's own"]),
            str(c["other"]),
            str(c["all"]),
        ]


# ------------------------------------------------------------------ the builds


@dataclass
class Bench:
    work: Path
    registry: Registry
    base: Base
    executor_dir: Path
    python: str
    ws: Path
    offset: int = 0
    rows: list[tuple[str, Tally]] = field(default_factory=list)
    changes: int = 0
    notes: list[str] = field(default_factory=list)

    def start(self) -> None:
        """Requests from here on count for the next row."""
        _, self.offset = read_requests(self.registry.log_path, self.offset)

    def record(self, title: str) -> Tally:
        requests, self.offset = read_requests(self.registry.log_path, self.offset)
        tally = Tally()
        for request in requests:
            tally.add(request, self.base)
        self.rows.append((title, tally))
        print(f"{title}: {tally.counts['all']} requests", file=sys.stderr, flush=True)
        return tally

    def write_dockerfile(self, by_digest: bool = False, text: str = DOCKERFILE) -> None:
        ref = f"@{self.base.manifest}" if by_digest else ":latest"
        base = f"{self.registry.host}/{BASE_REPO}{ref}"
        (self.ws / "Dockerfile").write_text(text.format(base=base))

    def change_one_source(self) -> None:
        self.changes += 1
        (self.ws / "src" / "f00.txt").write_text(f"source 0, changed {self.changes} times\n")

    def _raw(self, tag: str) -> dict[str, str]:
        raw = dict(DEFAULTS)
        raw.update(
            {
                "tags": f"{self.registry.host}/{APP_REPO}:{tag}",
                "push": "true",
                "insecure-registries": self.registry.host,
                "executor-dir": str(self.executor_dir),
                "summary": "false",
            }
        )
        return raw

    def action(self, title: str, local_cache: Path | None, cache_dir: Path | None) -> None:
        raw = self._raw(f"action-{len(self.rows)}")
        if local_cache is not None:
            raw["cache-from"] = f"type=local,src={local_cache}"
            raw["cache-to"] = f"type=local,dest={local_cache}"
        if cache_dir is not None:
            raw["cache-dir"] = str(cache_dir)
        output = self.work / "github-output"
        output.write_text("")
        (self.work / "runner-temp").mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
        env.update({env_name(k): v for k, v in raw.items()})
        env.update(
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(self.ws),
                "RUNNER_TEMP": str(self.work / "runner-temp"),
                "GITHUB_OUTPUT": str(output),
            }
        )
        self.start()
        done = subprocess.run(
            [self.python, str(ROOT / "entrypoint.py")], env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"the action failed ({title}):\n{(done.stdout + done.stderr)[-4000:]}")
        self.record(title)

    def kaniko_alone(self, title: str, cache_dir: Path | None) -> None:
        raw = self._raw(f"alone-{len(self.rows)}")
        raw.update({"cache": "true", "cache-repo": f"{self.registry.host}/{CACHE_REPO}"})
        if cache_dir is not None:
            raw["cache-dir"] = str(cache_dir)
        spec = build_spec(raw, str(self.ws))
        self.start()
        _, done = run_kaniko_alone(spec, self.work / "alone")
        if done.returncode != 0:
            raise SystemExit(
                f"kaniko alone failed ({title}):\n{(done.stdout + done.stderr)[-4000:]}"
            )
        self.record(title)

    def warm(self, warmer: Path, cache_dir: Path) -> None:
        """kaniko's warmer in a chroot of its own, writing the base image into `cache_dir`
        (a new runner directory)."""
        spec = build_spec(self._raw("unused"), str(self.ws))
        layout = chroot_layout(spec.paths)
        self.start()
        with Sandbox(self.work / "warmer", CancelState()) as sandbox:
            root = str(sandbox.root)
            sandbox.populate(layout, spec.executor_dir)
            inside = layout.kaniko_dir / "warmer"
            shutil.copy2(warmer, host_path(root, inside))
            Path(host_path(root, layout.cache_dir)).mkdir(parents=True)

            def enter() -> None:  # the warmer's path exists only in the chroot
                os.chroot(root)
                os.chdir("/")

            done = subprocess.run(
                [str(inside), f"--cache-dir={layout.cache_dir}",
                 f"--image={self.registry.host}/{BASE_REPO}:latest",
                 f"--insecure-registry={self.registry.host}"],
                env={"PATH": "/usr/bin:/bin", "HOME": "/root"}, preexec_fn=enter,
                stdin=subprocess.DEVNULL, capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode != 0:
                raise SystemExit(f"the warmer failed:\n{(done.stdout + done.stderr)[-4000:]}")
            copy_tree(host_path(root, layout.cache_dir), cache_dir)
        files = [p for p in cache_dir.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        self.notes.append(
            f"cache-dir as the warmer filled it: {len(files)} files, {size / MiB:.1f} MiB "
            "(copied into the chroot for every build that names it)"
        )
        self.record("kaniko's warmer: the base image into cache-dir")


def build_warmer(dest: Path) -> Path:
    """kaniko's warmer, built with Go from the module cache (as scripts/install-executors.sh
    builds the executor)."""
    if shutil.which("go") is None:
        raise SystemExit("no go on PATH: pass --warmer PATH or --warmer none")
    env = {**os.environ, "CGO_ENABLED": "0"}
    spec = f"{WARMER_MODULE}@{WARMER_VERSION}"
    listed = subprocess.run(
        ["go", "mod", "download", "-json", spec], env=env, capture_output=True, text=True
    )
    if listed.returncode != 0:
        raise SystemExit(f"go mod download {spec} failed:\n{listed.stdout}{listed.stderr}")
    source = json.loads(listed.stdout)["Dir"]
    dest.mkdir()
    binary = dest / "warmer"
    ldflags = f"-s -w -X {WARMER_MODULE}/pkg/version.version={WARMER_VERSION}"
    built = subprocess.run(
        ["go", "build", "-trimpath", f"-ldflags={ldflags}", "-o", str(binary), "./cmd/warmer"],
        cwd=source, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if built.returncode != 0:
        raise SystemExit(f"building the warmer failed:\n{built.stdout}{built.stderr}")
    return binary


def table(rows: list[tuple[str, Tally]]) -> list[str]:
    return [
        "| build | " + " | ".join(COLUMNS) + " |",
        "| --- |" + " ---: |" * len(COLUMNS),
        *(f"| {title} | " + " | ".join(tally.cells()) + " |" for title, tally in rows),
    ]


def run(bench: Bench, warmer: Path | None) -> None:
    local = bench.work / "layer-cache"
    bench.write_dockerfile()
    bench.action("action, no cache (cold)", None, None)
    bench.action("action, type=local: the build that fills it", local, None)
    bench.action("action, type=local: nothing changed", local, None)
    bench.change_one_source()
    bench.action("action, type=local: one file changed", local, None)
    bench.write_dockerfile(text=RUN_ONLY)
    run_only = bench.work / "layer-cache-run-only"
    bench.action("action, type=local, RUN steps only: the build that fills it", run_only, None)
    bench.action("action, type=local, RUN steps only: nothing changed", run_only, None)
    bench.write_dockerfile()
    if warmer is not None:
        cache_dir = bench.work / "cache-dir"
        bench.warm(warmer, cache_dir)
        bench.action("action, type=local + cache-dir: nothing changed", local, cache_dir)
        bench.change_one_source()
        bench.action("action, type=local + cache-dir: one file changed", local, cache_dir)
        bench.write_dockerfile(by_digest=True)
        bench.change_one_source()
        bench.action(
            "action, type=local + cache-dir, FROM by digest: one file changed", local, cache_dir
        )
        bench.write_dockerfile()
        bench.change_one_source()
        bench.action("action, cache-dir, no layer cache: one file changed", None, cache_dir)
    bench.kaniko_alone("kaniko alone, registry cache: the build that fills it", None)
    bench.kaniko_alone("kaniko alone, registry cache: nothing changed", None)
    bench.change_one_source()
    bench.kaniko_alone("kaniko alone, registry cache: one file changed", None)
    if warmer is not None:
        bench.change_one_source()
        bench.kaniko_alone(
            "kaniko alone, registry cache + cache-dir: one file changed", bench.work / "cache-dir"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executor", default="upstream", help="upstream, fork or a kaniko dir")
    parser.add_argument("--base", choices=("debian", "busybox"), default="debian")
    parser.add_argument("--warmer", default="build", help="build, none, or the warmer's path")
    add_machine_arguments(parser)
    parser.add_argument("--list", action="store_true", help="also list each build's requests")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("run as root: kaniko runs in a chroot")
    executor_dir = executor_choice(args.executor).resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    work = Path(os.path.realpath(tempfile.mkdtemp(prefix="kaniko-build-requests-", dir=args.work)))
    try:
        warmer: Path | None = None
        if args.warmer == "build":
            warmer = build_warmer(work / "bin")
        elif args.warmer != "none":
            warmer = Path(args.warmer).resolve()
        with Registry.start(work / "registry") as registry:
            if args.base == "debian":
                push_debian(registry, default_cache_dir(), BASE_REPO, "latest")
            else:
                push_busybox(registry, BASE_REPO, "latest")
            image = registry.client().resolve_image(BASE_REPO, "latest")
            layers = image.manifest["layers"]
            base = Base(
                manifest=image.digest,
                config=image.manifest["config"]["digest"],
                layers=frozenset(layer["digest"] for layer in layers),
                compressed=sum(layer["size"] for layer in layers),
            )
            ws = work / "workspace"
            (ws / "src").mkdir(parents=True)
            for index in range(SOURCES):
                (ws / "src" / f"f{index:02d}.txt").write_text(f"source {index}\n")
            bench = Bench(work, registry, base, executor_dir, args.python, ws)
            run(bench, warmer)
        print(
            f"executor {executor_dir}; base {args.base}: {len(base.layers)} layer(s), "
            f"{base.compressed / MiB:.1f} MiB in the registry"
        )
        print()
        print("\n".join(table(bench.rows)))
        if bench.notes:
            print()
            print("\n".join(bench.notes))
        if args.list:
            for title, tally in bench.rows:
                print(f"\n{title}:")
                for r in tally.requests:
                    query = f"?{r.query[:40]}" if r.query else ""
                    print(f"  {r.method} {r.path}{query} {r.status} {r.size} {r.agent[:30]}")
    finally:
        remove_tree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
