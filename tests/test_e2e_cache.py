"""A local layer cache (`cache-from: type=local,src=DIR`, `cache-to: type=local,dest=DIR`)
with the real executors, in Docker's documented shape: the first build writes a cache, the
next reads it and writes a new one, and a spoiled cache is a warning and a cache miss."""

from __future__ import annotations

import os
import re
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


def _base_blob_gets(registry: Registry, offset: int, repository: str) -> tuple[list[str], int]:
    """The blob GETs of `repository` the registry's access log has after byte `offset`."""
    with open(registry.log_path, "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
        end = f.tell()
    found = re.findall(rf'"GET /v2/{re.escape(repository)}/blobs/(sha256:[0-9a-f]{{64}})', text)
    return found, end


def test_base_images_travel_with_a_local_cache(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    """The base image is pulled once by the action into kaniko's base-image cache (both
    stages read that file), kept in cache-to's directory, and the next build reads it from
    there: no blob of the base is fetched from the registry again."""
    os.chown(harness.workspace, *RUNNER)
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image} AS build\nCOPY app.txt /app.txt\n"
        "RUN echo built from $(cat /app.txt) > /built\n"
        f"FROM {busybox_image}\nCOPY --from=build /built /built\n",
    )
    harness.write("app.txt", "v1\n")
    cache = harness.workspace.parent / "buildx-cache"
    fresh = harness.workspace.parent / "buildx-cache-new"
    common = {"push": "true", "insecure_registries": registry.host}
    client = registry.client()
    manifest = client.get_manifest("base/busybox", "latest").manifest
    blobs = {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])}
    _, offset = _base_blob_gets(registry, 0, "base/busybox")

    first = harness.run(
        tags=f"{registry.host}/e2e/base-cache:1",
        cache_from=f"type=local,src={cache}",
        cache_to=f"type=local,dest={cache},mode=max",
        **common,
    )
    assert first.returncode == 0, first.stdout
    assert f"Base image cache: {busybox_image} (sha256:" in first.stdout
    assert ") pulled in " in first.stdout
    assert "in local cache" in first.stdout  # kaniko read it
    fetched, offset = _base_blob_gets(registry, offset, "base/busybox")
    assert sorted(fetched) == sorted(blobs), "each blob once, for both stages"
    kept = sorted(p.name for p in (cache / "base-images").iterdir())
    assert len(kept) == 2 and kept[1] == kept[0] + ".json", kept
    assert _owners(cache) == {RUNNER}
    assert "::warning" not in first.stdout, first.stdout
    assert first.host_changes == [], first.host_changes

    harness.write("app.txt", "v2\n")
    second = harness.run(
        tags=f"{registry.host}/e2e/base-cache:2",
        cache_from=f"type=local,src={cache}",
        cache_to=f"type=local,dest={fresh},mode=max",
        **common,
    )
    assert second.returncode == 0, second.stdout
    assert f") from {cache} in " in second.stdout
    fetched, offset = _base_blob_gets(registry, offset, "base/busybox")
    assert fetched == [], f"the base was fetched again: {fetched}"
    assert sorted(p.name for p in (fresh / "base-images").iterdir()) == kept
    assert "::warning" not in second.stdout, second.stdout
    assert client.image_files("e2e/base-cache", "2")["built"].text == "built from v2\n"
    assert second.host_changes == [], second.host_changes

    # A spoiled copy (a cache restore cut short) is a warning; the image is pulled again.
    tarball = fresh / "base-images" / kept[0]
    tarball.write_bytes(tarball.read_bytes()[:-4096])
    third = harness.run(
        tags=f"{registry.host}/e2e/base-cache:3",
        cache_from=f"type=local,src={fresh}",
        **common,
    )
    assert third.returncode == 0, third.stdout
    assert "is unusable (" in third.stdout and "pulled again" in third.stdout, third.stdout
    fetched, offset = _base_blob_gets(registry, offset, "base/busybox")
    assert sorted(fetched) == sorted(blobs)
    assert client.image_files("e2e/base-cache", "3")["built"].text == "built from v2\n"
    assert third.host_changes == [], third.host_changes
