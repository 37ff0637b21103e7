"""moby/patternmatcher itself, built from the Go module cache, as a reference for tests.

kaniko v1.24.0 pins patternmatcher v0.6.0 and the maintained fork v0.6.1; both sit in the Go
module cache once scripts/install-executors.sh has built the executors. The program in
patternmatcher_oracle/ is built against one of them offline (a `replace` to the cached module
directory, nothing written to that cache) and answers what ReadAll and Matches say. Built
programs are kept in $KANIKO_BUILD_ORACLE_CACHE (default: <tmp>/kaniko-build-oracle), keyed
by the program's source and the module version.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).parent / "patternmatcher_oracle" / "main.go"
MODULE = "github.com/moby/patternmatcher"
# kaniko release -> the patternmatcher version its go.mod pins.
PINNED = {"upstream": "v0.6.0", "fork": "v0.6.1"}


class OracleUnavailable(Exception):
    pass


@dataclass(frozen=True)
class Answer:
    patterns: list[bytes]
    read_error: str
    excluded: list[bool]
    errors: list[str]


def _go() -> str:
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go") else None
    )
    if go is None:
        raise OracleUnavailable("no Go toolchain on PATH")
    return go


def cache_dir() -> Path:
    configured = os.environ.get("KANIKO_BUILD_ORACLE_CACHE")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "kaniko-build-oracle"


def build(version: str) -> Path:
    """The oracle built against patternmatcher `version` from the module cache."""
    key = hashlib.sha256(SOURCE.read_bytes() + version.encode()).hexdigest()[:16]
    binary = cache_dir() / f"oracle-{version}-{key}"
    if binary.is_file():
        return binary
    cache_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir()) as work:
        built = _build(version, Path(work))
        os.replace(built, binary)
    return binary


def _build(version: str, workdir: Path) -> Path:
    go = _go()
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOWORK": "off",
           "GOTOOLCHAIN": "local", "GOCACHE": str(cache_dir() / "gocache")}  # fmt: skip
    modcache = subprocess.run(
        [go, "env", "GOMODCACHE"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    cached = Path(modcache) / f"{MODULE}@{version}"
    if not (cached / "patternmatcher.go").is_file():
        raise OracleUnavailable(
            f"{MODULE}@{version} is not in the Go module cache ({modcache}); "
            "scripts/install-executors.sh puts it there"
        )
    src = workdir / f"oracle-{version}"
    src.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCE, src / "main.go")
    (src / "go.mod").write_text(
        f"module oracle\n\ngo 1.21\n\nrequire {MODULE} {version}\n\nreplace {MODULE} => {cached}\n"
    )
    binary = src / "oracle"
    proc = subprocess.run(
        [go, "build", "-o", str(binary), "."], cwd=src, env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:  # Go and the module are there: this is a real failure
        raise RuntimeError(f"building the patternmatcher reference failed:\n{proc.stderr}")
    return binary


def ask(binary: Path, ignore: bytes, paths: list[bytes]) -> Answer:
    request = {
        "ignore": base64.b64encode(ignore).decode(),
        "paths": [base64.b64encode(p).decode() for p in paths],
    }
    proc = subprocess.run(
        [str(binary)], input=json.dumps(request), capture_output=True, text=True, check=True
    )
    data = json.loads(proc.stdout)
    return Answer(
        patterns=[base64.b64decode(p) for p in data["patterns"] or []],
        read_error=data["read_error"],
        excluded=list(data["excluded"] or []),
        errors=list(data["errors"] or []),
    )
