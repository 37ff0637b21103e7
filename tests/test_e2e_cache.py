"""A local layer cache (`cache-from: type=local,src=DIR`, `cache-to: type=local,dest=DIR`)
with the real executors, in Docker's documented shape: the first build writes a cache, the
next reads it and writes a new one, and a spoiled cache is a warning and a cache miss."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import executor_dir
from .support.action import ActionHarness
from .support.registry import Registry

pytestmark = pytest.mark.e2e
RUNNER = (1001, 1001)


def _dockerfile(base: str) -> str:
    return (
        f"FROM {base}\nCOPY app.txt /app.txt\nRUN echo built from $(cat /app.txt) > /built\n"
        "RUN echo second > /second\n"
    )


def _owners(path: Path) -> set[tuple[int, int]]:
    return {(os.lstat(p).st_uid, os.lstat(p).st_gid) for p in [path, *path.rglob("*")]}


def test_a_local_cache_is_written_then_hit(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    os.chown(harness.workspace, *RUNNER)
    harness.write("Dockerfile", _dockerfile(busybox_image))
    harness.write("app.txt", "v1\n")
    cache = harness.workspace.parent / "buildx-cache"
    fresh = harness.workspace.parent / "buildx-cache-new"
    common = {"push": "true", "insecure_registries": registry.host}

    first = harness.run(
        tags=f"{registry.host}/e2e/local-cache:1",
        cache_from=f"type=local,src={cache}",
        cache_to=f"type=local,dest={cache},mode=max",
        **common,
    )
    assert first.returncode == 0, first.stdout
    assert f"Layer cache: {cache} does not exist yet" in first.stdout
    assert "No cached layer found for cmd RUN echo built" in first.stdout
    entries = [p for p in cache.iterdir() if p.name.startswith("kaniko:")]
    assert len(entries) >= 2, first.stdout
    assert _owners(cache) == {RUNNER}
    assert first.host_changes == [], first.host_changes

    second = harness.run(
        tags=f"{registry.host}/e2e/local-cache:2",
        cache_from=f"type=local,src={cache}",
        cache_to=f"type=local,dest={fresh},mode=max",
        **common,
    )
    assert second.returncode == 0, second.stdout
    assert "Using caching version of cmd: RUN echo second" in second.stdout
    assert "No cached layer found" not in second.stdout
    assert "::warning" not in second.stdout, second.stdout
    kept = sorted(p.name for p in fresh.iterdir() if p.name.startswith("kaniko:"))
    assert kept == sorted(p.name for p in entries)
    client = registry.client()
    assert client.image_files("e2e/local-cache", "2")["built"].text == "built from v1\n"

    # One blob spoiled (a cache restore cut short): that entry is a miss, the build goes on.
    blob = next(iter(sorted((fresh / kept[0] / "blobs" / "sha256").iterdir())))
    blob.write_bytes(blob.read_bytes()[:-1])
    harness.write("app.txt", "v2\n")
    third = harness.run(
        tags=f"{registry.host}/e2e/local-cache:3",
        cache_from=f"type=local,src={fresh}",
        **common,
    )
    assert third.returncode == 0, third.stdout
    assert "layer cache entry of input 'cache-from'" in third.stdout
    assert "does not have that digest" in third.stdout
    assert client.image_files("e2e/local-cache", "3")["built"].text == "built from v2\n"
    assert third.host_changes == [], third.host_changes


def test_cache_mounts_travel_with_a_local_cache(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """`RUN --mount=type=cache` (the maintained executor): what one build's RUN step left in
    the mount is there for the next build's, through cache-to's directory, owners kept."""
    workspace = tmp_path / "workspace"
    runner_temp = tmp_path / "runner-temp"
    workspace.mkdir()
    runner_temp.mkdir()
    os.chown(workspace, *RUNNER)
    harness = ActionHarness(workspace, runner_temp, executor_dir("fork"))
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\nARG N\n"
        "RUN --mount=type=cache,target=/var/cache/app "
        "sh -c 'cd /var/cache/app; cat runs > /seen 2>/dev/null; stat -c %u runs >> /seen "
        "2>/dev/null; echo $N >> runs; chown 123 runs'\n",
    )
    cache = tmp_path / "buildx-cache"
    common = {
        "push": "true",
        "insecure_registries": registry.host,
        "cache_from": f"type=local,src={cache}",
        "cache_to": f"type=local,dest={cache},mode=max",
    }
    seen = []
    for n in ("1", "2"):
        run = harness.run(tags=f"{registry.host}/e2e/mounts:{n}", build_args=f"N={n}", **common)
        assert run.returncode == 0, run.stdout
        assert run.host_changes == [], run.host_changes
        assert "::warning" not in run.stdout, run.stdout
        assert "Layer cache: cache mounts (" in run.stdout
        seen.append(registry.client().image_files("e2e/mounts", n)["seen"].text)
    assert seen == ["", "1\n123\n"]
    mounts = cache / "cache-mounts.tar"
    assert (os.lstat(mounts).st_uid, os.lstat(mounts).st_gid) == RUNNER
