"""End to end: the build-push-action-style inputs, outputs and presentation, with the real
executor and registry."""

from __future__ import annotations

import gzip
import json
import tarfile

import pytest

from .support.action import ActionHarness
from .support.registry import Registry
from .test_e2e_build import assert_clean, assert_pushed

pytestmark = pytest.mark.e2e

CACHEABLE = "FROM {base}\nRUN echo layer-one > /one\nRUN echo layer-two > /two\n"


@pytest.mark.parametrize("harness", ["upstream", "fork"], indirect=True)
def test_registry_cache_hits_on_second_build(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    repo = f"e2e/cached-{harness.executor_dir.parent.name}"
    harness.write("Dockerfile", CACHEABLE.format(base=busybox_image))
    inputs = {
        "tags": f"{registry.host}/{repo}:1",
        "cache": "true",
        "cache_repo": f"{registry.host}/{repo}/cache",
        "insecure_registries": registry.host,
    }
    first = harness.run(**inputs)
    assert_pushed(registry, first, repo, "1")
    # kaniko pushed one cache layer per RUN into the cache repository.
    assert len(registry.client().tags(f"{repo}/cache")) == 2
    first_meta = json.loads(first.outputs["metadata"])
    # kaniko stops looking up the cache at the first miss.
    assert first_meta["cache"] == {"enabled": True, "hits": 0, "misses": 1}
    assert first.stdout.count("::group::Push") == 1

    second = harness.run(**inputs)
    files = assert_pushed(registry, second, repo, "1")
    assert files["two"].text == "layer-two\n"
    meta = json.loads(second.outputs["metadata"])
    assert meta["cache"] == {"enabled": True, "hits": 2, "misses": 0}
    assert "| Cache | 2 hit(s), 0 miss(es) |" in second.summary
    assert_clean(first)
    assert_clean(second)


def test_cache_off_rebuilds_and_pushes_no_cache(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", CACHEABLE.format(base=busybox_image))
    run = harness.run(tags=f"{registry.host}/e2e/uncached:1", insecure_registries=registry.host)
    assert_pushed(registry, run, "e2e/uncached", "1")
    assert "e2e/uncached/cache" not in registry.client().catalog()
    assert json.loads(run.outputs["metadata"])["cache"]["enabled"] is False
    assert "| Cache | off |" in run.summary
    assert_clean(run)


def test_push_false_with_tar_path_and_oci_layout(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN echo in-tarball > /made\n")
    run = harness.run(
        tags=f"{registry.host}/e2e/tarball:1",
        push="false",
        tar_path="out/image.tar",
        oci_layout_path="out/oci",
        insecure_registries=registry.host,
    )
    assert run.returncode == 0, run.stdout
    assert registry.client().tags("e2e/tarball") == []
    tar_path = harness.workspace / "out" / "image.tar"
    assert run.outputs["tar-path"] == str(tar_path)
    assert run.outputs["oci-layout-path"] == str(harness.workspace / "out" / "oci")
    with tarfile.open(tar_path) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        config_name = manifest[0]["Config"]
        assert manifest[0]["RepoTags"] == [f"{registry.host}/e2e/tarball:1"]
        layers = [tar.extractfile(name).read() for name in manifest[0]["Layers"]]  # type: ignore[union-attr]
    assert run.outputs["imageid"] == "sha256:" + config_name.removeprefix("sha256:")
    contents = [gzip.decompress(layer) if layer[:2] == b"\x1f\x8b" else layer for layer in layers]
    assert any(b"in-tarball" in layer for layer in contents)
    oci = harness.workspace / "out" / "oci"
    index = json.loads((oci / "index.json").read_text())
    manifest_blob = oci / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1]
    assert json.loads(manifest_blob.read_text())["config"]["digest"] == run.outputs["imageid"]
    # Written, not pushed: `digest` is the manifest's, as buildx's docker and oci exporters
    # report it; kaniko's digest file and its layout agree.
    assert run.outputs["digest"] == index["manifests"][0]["digest"]
    assert "image" not in run.outputs and "tags" not in run.outputs
    assert_clean_except_outputs(run.host_changes, harness)


def assert_clean_except_outputs(changes: list[str], harness: ActionHarness) -> None:
    out = str(harness.workspace / "out")
    unexpected = [c for c in changes if not c.split(": ", 1)[1].startswith(out)]
    assert unexpected == [], "host changed:\n" + "\n".join(unexpected)


def test_summary_metadata_and_groups(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN echo x > /x\n")
    run = harness.run(
        tags=f"{registry.host}/e2e/presented:1\n{registry.host}/e2e/presented:2",
        insecure_registries=registry.host,
    )
    assert_pushed(registry, run, "e2e/presented", "1")
    groups = [line for line in run.stdout.splitlines() if line.startswith("::group::")]
    assert groups == [
        "::group::Resolve inputs",
        "::group::Stage",
        "::group::Build",
        "::group::Push",
        "::group::Clean up",
    ]
    meta = json.loads(run.outputs["metadata"])
    assert meta["digest"] == run.outputs["digest"] == meta["containerimage.digest"]
    assert meta["destinations"] == [
        f"{registry.host}/e2e/presented:1",
        f"{registry.host}/e2e/presented:2",
    ]
    assert meta["kaniko.version"] == harness.executor_dir.parent.name.split("-", 1)[1]
    assert meta["base-images"] == [busybox_image]
    assert set(meta["phases"]) == {"Resolve inputs", "Stage", "Build", "Push", "Clean up"}
    assert run.outputs["tags"] == "\n".join(meta["destinations"])
    assert registry.client().get_manifest("e2e/presented", "2").digest == run.outputs["digest"]
    assert "### kaniko-build: image pushed" in run.summary
    assert f"| Digest | `{run.outputs['digest']}` |" in run.summary
    assert f"| Base image | `{busybox_image}` |" in run.summary
    assert_clean(run)


def test_summary_can_be_turned_off(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\n")
    run = harness.run(
        tags=f"{registry.host}/e2e/quiet:1", summary="false", insecure_registries=registry.host
    )
    assert_pushed(registry, run, "e2e/quiet", "1")
    assert run.summary == ""
    assert_clean(run)


def test_failure_summary_and_annotation_point_at_the_line(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write(
        "docker/Dockerfile.ci",
        f"FROM {busybox_image} AS one\nRUN echo ok\n\nFROM one\nRUN echo a \\\n && false\n",
    )
    run = harness.run(
        file="docker/Dockerfile.ci",
        tags=f"{registry.host}/e2e/f:1",
        insecure_registries=registry.host,
    )
    assert run.returncode == 1
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 1
    assert errors[0].startswith(
        "::error title=Build failed,file=docker/Dockerfile.ci,line=5,endLine=6::"
    )
    assert "### kaniko-build: image failed" in run.summary
    assert "docker/Dockerfile.ci:5" in run.summary
    assert_clean(run)


def test_add_hosts_and_kaniko_args(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\nRUN grep db.internal /etc/hosts > /hosts-entry\n"
        "RUN mkdir /scratch && echo 2 > /scratch/two && echo 2 > /two\n",
    )
    run = harness.run(
        tags=f"{registry.host}/e2e/hosts:1",
        add_hosts="db.internal:10.1.2.3",
        kaniko_args="--ignore-path /scratch",
        insecure_registries=registry.host,
    )
    files = assert_pushed(registry, run, "e2e/hosts", "1")
    assert files["hosts-entry"].text.split() == ["10.1.2.3", "db.internal"]
    # --ignore-path reached kaniko: what the RUN step wrote there is in no layer.
    assert files["two"].text == "2\n"
    assert not [p for p in files if p.startswith("scratch")]
    assert_clean(run)


def test_build_push_action_inputs_warn_or_refuse_before_kaniko(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\n")
    warned = harness.run(
        tags=f"{registry.host}/e2e/compat:1",
        builder="builder-1",
        provenance="mode=max",
        pull="true",
        insecure_registries=registry.host,
    )
    assert_pushed(registry, warned, "e2e/compat", "1")
    warnings = [line for line in warned.stdout.splitlines() if line.startswith("::warning")]
    assert warnings == [
        "::warning::input 'builder' has no effect: kaniko has no builder instances",
        "::warning::input 'provenance' has no effect: kaniko produces no attestations",
    ]
    refused = harness.run(
        tags=f"{registry.host}/e2e/compat:2",
        ssh="default",
        insecure_registries=registry.host,
    )
    assert refused.returncode == 1
    assert "::error title=Invalid input::input 'ssh': not supported with kaniko" in refused.stdout
    assert "::group::Stage" not in refused.stdout
    assert registry.client().tags("e2e/compat") == ["1"]
    assert_clean(warned)
    assert_clean(refused)
