"""End to end: what the action places in the chroot is the chroot's own. A hostile RUN step
writing to the staged cache directory, kaniko's files or the context changes nothing on the
runner."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from .support.action import ActionHarness
from .support.registry import Registry

pytestmark = pytest.mark.e2e

HOSTILE = """\
FROM {base}
COPY . /app/
RUN echo tampered >> /.kaniko-build/cache/sha256:0123 \\
 && chmod 777 /.kaniko-build/cache/sha256:0123 /.kaniko-build/docker-credential-gcr \\
 && echo tampered >> /.kaniko-build/docker-credential-gcr \\
 && echo tampered >> /.kaniko-build/context/data.txt \\
 && chmod 777 /.kaniko-build/context/data.txt \\
 && cat /.kaniko-build/cache/sha256:0123 > /cache-seen \\
 && ls /.kaniko-build > /kaniko-dir
"""


def state(path: Path) -> tuple[int, int, bytes]:
    st = path.stat()
    return (stat.S_IMODE(st.st_mode), st.st_nlink, path.read_bytes())


def test_run_steps_cannot_reach_the_runner_through_staged_files(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    cache = harness.workspace.parent / "warm-cache"
    cache.mkdir()
    (cache / "sha256:0123").write_bytes(b"cached layer\n")
    harness.write("Dockerfile", HOSTILE.format(base=busybox_image))
    harness.write("data.txt", "runner data\n")
    watched = [
        cache / "sha256:0123",
        harness.workspace / "data.txt",
        harness.executor_dir / "docker-credential-gcr",
    ]
    before = [state(p) for p in watched]
    docker_config = harness.workspace.parent / "docker-config"
    docker_config.mkdir()
    (docker_config / "config.json").write_text('{"credHelpers": {"gcr.io": "gcr"}}')
    harness.extra_env["DOCKER_CONFIG"] = str(docker_config)
    run = harness.run(
        tags=f"{registry.host}/e2e/hostile:1",
        insecure_registries=registry.host,
        cache_dir=str(cache),
    )
    assert run.returncode == 0, run.stdout
    files = registry.client().image_files("e2e/hostile", "1")
    assert files["cache-seen"].text == "cached layer\ntampered\n"  # it did write, in the chroot
    # Only the credential helper the docker config names is in the chroot.
    assert "docker-credential-gcr" in files["kaniko-dir"].text.split()
    assert "docker-credential-ecr-login" not in files["kaniko-dir"].text
    assert [state(p) for p in watched] == before
    assert run.host_changes == [], run.host_changes


def test_ignored_directory_never_reaches_the_chroot(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    """A RUN step sees the staged context: the ignored folder is there, empty."""
    harness.write(".dockerignore", "node_modules\n*.log\n")
    harness.write("node_modules/pkg/index.js", "module\n")
    harness.write("debug.log", "log\n")
    harness.write("app.js", "app\n")
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\nCOPY . /app/\n"
        "RUN ls -A /.kaniko-build/context/node_modules > /seen-modules; "
        "wc -c < /.kaniko-build/context/debug.log > /seen-log\n",
    )
    os.utime(harness.workspace / "app.js", ns=(10**18, 10**18))
    run = harness.run(tags=f"{registry.host}/e2e/ignored:1", insecure_registries=registry.host)
    assert run.returncode == 0, run.stdout
    files = registry.client().image_files("e2e/ignored", "1")
    assert files["app/app.js"].text == "app\n"
    assert "app/node_modules" not in files and "app/debug.log" not in files
    assert files["seen-modules"].text == ""
    assert files["seen-log"].text.strip() == "0"
    assert run.host_changes == [], run.host_changes
