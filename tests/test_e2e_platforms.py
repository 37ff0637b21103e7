"""End to end: multi-platform images. Each platform is built in its own sandbox, pushed by
digest, and one index goes under every tag; checked through the registry (index, manifests,
platforms, files, tags). The base image is an index of busybox for amd64 and arm64 (the same
static amd64 bytes in both: no arm64 binary is ever run, the Dockerfile cross-compiles)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from .support.action import ActionHarness, ActionRun
from .support.images import push_busybox_index
from .support.registry import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, Registry
from .test_e2e_build import assert_clean
from .test_e2e_parity import assert_clean_except_outputs

pytestmark = pytest.mark.e2e

CROSS = """\
FROM --platform=$BUILDPLATFORM {base} AS build
ARG TARGETPLATFORM
ARG TARGETARCH
RUN echo "$TARGETPLATFORM $TARGETARCH" > /built-for && uname -m > /built-on
FROM {base}
COPY --from=build /built-for /built-on /
COPY app.txt /app.txt
"""
PLATFORMS = ("linux/amd64", "linux/arm64")


@pytest.fixture(scope="module")
def multi_base(registry: Registry) -> tuple[str, dict[str, str]]:
    digests = push_busybox_index(registry, "base/multi", "1")
    return registry.ref("base/multi", "1"), digests


def index_of(registry: Registry, repo: str, tag: str) -> tuple[str, dict[str, Any]]:
    found = registry.client().get_manifest(repo, tag)
    assert found.media_type == DOCKER_MANIFEST_LIST
    return found.digest, found.manifest


def check_multi_platform_image(
    registry: Registry, run: ActionRun, repo: str, tags: list[str]
) -> dict[str, str]:
    """The index under every tag, nothing else tagged; returns {platform: manifest digest}."""
    assert run.returncode == 0, run.stdout
    client = registry.client()
    assert sorted(client.tags(repo)) == sorted(tags)
    digest, index = index_of(registry, repo, tags[0])
    assert all(index_of(registry, repo, t)[0] == digest for t in tags)
    assert run.outputs["digest"] == digest
    assert run.outputs["image"] == f"{registry.host}/{repo}@{digest}"
    # build-push-action's imageid of a multi-platform build is the index digest.
    assert run.outputs["imageid"] == digest
    entries = {
        "/".join([e["platform"]["os"], e["platform"]["architecture"]]): e
        for e in index["manifests"]
    }
    assert sorted(entries) == sorted(PLATFORMS)
    metadata = json.loads(run.outputs["metadata"])
    assert metadata["containerimage.digest"] == digest
    # An index has no configuration: buildx has no such key then.
    assert "containerimage.config.digest" not in metadata
    assert metadata["containerimage.descriptor"]["mediaType"] == DOCKER_MANIFEST_LIST
    listed = {p["platform"]: p for p in metadata["platforms"]}
    for platform, entry in entries.items():
        assert entry["mediaType"] == DOCKER_MANIFEST
        manifest = client.get_manifest(repo, entry["digest"])
        assert manifest.digest == entry["digest"] == listed[platform]["digest"]
        config = client.image_config(repo, entry["digest"], platform)
        assert (config["os"], config["architecture"]) == tuple(platform.split("/"))
        assert listed[platform]["imageid"] == manifest.manifest["config"]["digest"]
        files = client.image_files(repo, tags[0], platform)
        assert files["built-for"].text == f"{platform} {platform.split('/')[1]}\n"
        # The build stage ran natively, on the runner's platform, for both targets.
        assert files["built-on"].text == "x86_64\n"
        assert files["app.txt"].text == "shipped\n"
        assert files["bin/busybox"].type == "file"
    return {p: e["digest"] for p, e in entries.items()}


def test_two_platforms_one_index_and_cache_per_platform(
    harness: ActionHarness, registry: Registry, multi_base: tuple[str, dict[str, str]]
) -> None:
    base, _digests = multi_base
    repo = f"platforms/app-{harness.executor_dir.parent.name}"
    harness.write("Dockerfile", CROSS.format(base=base))
    harness.write("app.txt", "shipped\n")
    tags = ["1", "latest"]
    inputs = {
        "tags": "\n".join(f"{registry.host}/{repo}:{t}" for t in tags),
        "platforms": ",".join(PLATFORMS),
        "insecure_registries": registry.host,
        "cache": "true",
        "cache_repo": f"{registry.host}/{repo}-cache",
    }
    first = harness.run(**inputs)
    check_multi_platform_image(registry, first, repo, tags)
    assert json.loads(first.outputs["metadata"])["cache"] == {
        "enabled": True,
        "hits": 0,
        "misses": 2,
    }
    # One cached RUN layer per platform (TARGETARCH is part of the key).
    assert len(registry.client().tags(f"{repo}-cache")) == 2
    assert "| Platform `linux/arm64` |" in first.summary

    second = harness.run(**inputs)
    check_multi_platform_image(registry, second, repo, tags)
    assert json.loads(second.outputs["metadata"])["cache"] == {
        "enabled": True,
        "hits": 2,
        "misses": 0,
    }
    assert len(registry.client().tags(f"{repo}-cache")) == 2
    assert_clean(first)
    assert_clean(second)


@pytest.mark.parametrize("harness", ["fork"], indirect=True)
def test_two_platforms_read_and_write_one_local_cache_directory(
    harness: ActionHarness, registry: Registry, multi_base: tuple[str, dict[str, str]]
) -> None:
    """cache-from and cache-to naming one directory (as a gha cache always does): every
    platform reads it as it was before the build, and it is replaced once, with the entries
    and the base images of all platforms."""
    base, digests = multi_base
    repo = "platforms/local-cache"
    harness.write("Dockerfile", CROSS.format(base=base))
    harness.write("app.txt", "shipped\n")
    cache = harness.workspace.parent / "cache"
    inputs = {
        "tags": f"{registry.host}/{repo}:1",
        "platforms": ",".join(PLATFORMS),
        "insecure_registries": registry.host,
        "push": "true",
        "cache_from": f"type=local,src={cache}",
        "cache_to": f"type=local,dest={cache},mode=max",
    }
    hits = []
    for _ in range(2):
        run = harness.run(**inputs)
        assert run.returncode == 0, run.stdout
        assert "::warning" not in run.stdout, run.stdout
        cached = json.loads(run.outputs["metadata"])["cache"]
        hits.append((cached["hits"], cached["misses"]))
        assert len([p for p in cache.iterdir() if p.name.startswith("kaniko:")]) == 2
        # The base of each platform is kept once (the build stage's is the runner's).
        kept = sorted(p.name for p in (cache / "base-images").iterdir())
        assert kept == sorted(n for p in PLATFORMS for n in (digests[p], digests[p] + ".json"))
        # Nothing of the platforms' gathering is left beside it.
        assert [p.name for p in cache.parent.iterdir() if "cache" in p.name] == ["cache"]
        assert_clean(run)
    assert hits == [(0, 2), (2, 0)]


@pytest.mark.parametrize("harness", ["fork"], indirect=True)
def test_foreign_run_steps_without_emulation_are_refused_before_building(
    harness: ActionHarness, registry: Registry, multi_base: tuple[str, dict[str, str]]
) -> None:
    base, _digests = multi_base
    harness.write("Dockerfile", f"FROM {base}\nCOPY app.txt /\nRUN cat /app.txt > /copy\n")
    harness.write("app.txt", "x\n")
    run = harness.run(
        tags=f"{registry.host}/platforms/foreign:1",
        platforms="linux/amd64,linux/arm64",
        insecure_registries=registry.host,
    )
    assert run.returncode == 1
    (error,) = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    # The runner's problem, not the inputs'.
    assert error.startswith("::error title=Runner::")
    assert "input '" not in error
    assert "linux/arm64: stage 0 runs RUN steps for linux/arm64" in error
    assert "(Dockerfile:3) on a linux/amd64 runner" in error
    assert "exec format error" in error and "F flag" in error
    assert "FROM --platform=$BUILDPLATFORM" in error
    assert "Building for" not in run.stdout
    assert "platforms/foreign" not in registry.client().catalog()
    assert_clean(run)


@pytest.mark.parametrize("harness", ["fork"], indirect=True)
def test_two_platforms_as_oci_layout_and_tarball(
    harness: ActionHarness, registry: Registry, multi_base: tuple[str, dict[str, str]]
) -> None:
    base, _digests = multi_base
    harness.write("Dockerfile", CROSS.format(base=base))
    harness.write("app.txt", "shipped\n")
    run = harness.run(
        tags=f"{registry.host}/platforms/oci:1",
        push="",
        platforms=",".join(PLATFORMS),
        insecure_registries=registry.host,
        outputs="type=oci,dest=out/image.tar\ntype=oci,dest=out/layout,tar=false",
    )
    assert run.returncode == 0, run.stdout
    assert "platforms/oci" not in registry.client().catalog()
    layout = harness.workspace / "out" / "layout"
    with tarfile.open(harness.workspace / "out" / "image.tar") as tar:
        names = set(tar.getnames())
        tar_index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
    assert {"oci-layout", "index.json"} <= names
    index = json.loads((layout / "index.json").read_text())
    assert index == tar_index
    (entry,) = index["manifests"]
    assert entry["annotations"] == {"org.opencontainers.image.ref.name": "1"}
    # Nothing was pushed, but the index was written: `digest`, `imageid` and the metadata
    # name it, as buildx's oci exporter reports it.
    metadata = json.loads(run.outputs["metadata"])
    assert metadata["containerimage.digest"] == entry["digest"] == run.outputs["imageid"]
    assert run.outputs["digest"] == entry["digest"]
    assert metadata["containerimage.descriptor"]["size"] == entry["size"]
    image_index = json.loads(blob(layout, entry["digest"]))
    assert image_index["mediaType"] == DOCKER_MANIFEST_LIST
    found = {}
    for item in image_index["manifests"]:
        manifest = json.loads(blob(layout, item["digest"]))
        config = json.loads(blob(layout, manifest["config"]["digest"]))
        found[item["platform"]["architecture"]] = config["architecture"]
        for layer in manifest["layers"]:
            assert f"blobs/sha256/{layer['digest'].split(':')[1]}" in names
    assert found == {"amd64": "amd64", "arm64": "arm64"}
    assert run.outputs["oci-layout-path"] == str(layout)
    assert_clean_except_outputs(run.host_changes, harness)
    assert metadata["oci-tar-path"] == str(harness.workspace / "out" / "image.tar")


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_two_platforms_as_local_directory_get_one_directory_each(
    harness: ActionHarness, registry: Registry, multi_base: tuple[str, dict[str, str]]
) -> None:
    """As BuildKit's local exporter: `linux_amd64/`, `linux_arm64/`."""
    base, _digests = multi_base
    harness.write("Dockerfile", CROSS.format(base=base))
    harness.write("app.txt", "shipped\n")
    run = harness.run(
        push="",
        platforms=",".join(PLATFORMS),
        insecure_registries=registry.host,
        outputs="type=local,dest=out",
    )
    assert run.returncode == 0, run.stdout
    out = harness.workspace / "out"
    assert sorted(p.name for p in out.iterdir()) == ["linux_amd64", "linux_arm64"]
    for platform in PLATFORMS:
        tree = out / platform.replace("/", "_")
        arch = platform.split("/")[1]
        assert (tree / "built-for").read_text() == f"{platform} {arch}\n"
        assert (tree / "app.txt").read_text() == "shipped\n"
    assert "digest" not in run.outputs and "imageid" not in run.outputs
    assert_clean_except_outputs(run.host_changes, harness)


def blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()
