"""End to end: build-push-action's `outputs` forms, and `imageid` after a push."""

from __future__ import annotations

import json
import tarfile

import pytest

from .support.action import ActionHarness
from .support.registry import Registry
from .test_e2e_build import assert_clean, assert_pushed
from .test_e2e_parity import assert_clean_except_outputs

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_file_outputs_without_pushing(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN echo exported > /exported\n")
    run = harness.run(
        tags=f"{registry.host}/outputs/files:1",
        insecure_registries=registry.host,
        outputs=(
            "type=docker,dest=out/image.tar\n"
            "type=oci,dest=out/image.oci.tar\n"
            "type=oci,dest=out/layout,tar=false\n"
        ),
    )
    assert run.returncode == 0, run.stdout
    # `push` keeps its default (true), but `outputs` names no registry: nothing is pushed.
    assert registry.client().tags("outputs/files") == []
    assert "digest" not in run.outputs
    out = harness.workspace / "out"
    with tarfile.open(out / "image.tar") as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest[0]["RepoTags"] == [f"{registry.host}/outputs/files:1"]
    imageid = run.outputs["imageid"]
    assert manifest[0]["Config"].removeprefix("sha256:") == imageid.removeprefix("sha256:")
    with tarfile.open(out / "image.oci.tar") as tar:
        names = set(tar.getnames())
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        digest = index["manifests"][0]["digest"]
        image = json.loads(tar.extractfile(f"blobs/sha256/{digest[7:]}").read())  # type: ignore[union-attr]
    assert "oci-layout" in names
    assert image["config"]["digest"] == imageid
    assert all(f"blobs/sha256/{layer['digest'][7:]}" in names for layer in image["layers"])
    layout_index = json.loads((out / "layout" / "index.json").read_text())
    assert layout_index["manifests"][0]["digest"] == digest
    assert run.outputs["tar-path"] == str(out / "image.tar")
    assert run.outputs["oci-layout-path"] == str(out / "layout")
    metadata = json.loads(run.outputs["metadata"])
    assert metadata["oci-tar-path"] == str(out / "image.oci.tar")
    assert metadata["containerimage.config.digest"] == imageid
    assert_clean_except_outputs(run.host_changes, harness)


def test_registry_outputs_push_and_imageid_is_read_back(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\nRUN echo pushed > /pushed\n")
    repo = f"outputs/pushed-{harness.executor_dir.parent.name}"
    run = harness.run(
        tags=f"{registry.host}/{repo}:1",
        insecure_registries=registry.host,
        outputs=f'type=image,"name={registry.host}/{repo}:2",push=true',
    )
    assert_pushed(registry, run, repo, "1")
    assert sorted(registry.client().tags(repo)) == ["1", "2"]
    config_digest = registry.client().get_manifest(repo, "1").manifest["config"]["digest"]
    assert run.outputs["imageid"] == config_digest
    metadata = json.loads(run.outputs["metadata"])
    assert metadata["containerimage.config.digest"] == config_digest
    assert metadata["containerimage.digest"] == run.outputs["digest"]
    assert f"| Image ID | `{config_digest}` |" in run.summary
    assert_clean(run)


HOSTILE = """\
FROM {base}
RUN mkdir -p /.kaniko-build/out/oci && ln -s /etc /.kaniko-build/out/oci/blobs
"""


@pytest.mark.parametrize("harness", ["fork"], indirect=True)
@pytest.mark.parametrize(
    "inputs",
    [
        {"outputs": "type=oci,dest=out/image.tar"},
        {"platforms": "linux/amd64,linux/386"},
    ],
    ids=["oci-tarball", "two-platforms"],
)
def test_a_link_planted_in_the_layout_is_not_followed(
    harness: ActionHarness, registry: Registry, busybox_image: str, inputs: dict[str, str]
) -> None:
    """A RUN step turns the layout's blobs directory into a link to /etc: the runner's /etc
    must reach neither a tarball nor a registry."""
    harness.write("Dockerfile", HOSTILE.format(base=busybox_image))
    repo = "outputs/hostile"
    run = harness.run(tags=f"{registry.host}/{repo}:1", insecure_registries=registry.host, **inputs)
    assert run.returncode == 1
    (error,) = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert "refusing to collect the OCI layout" in error
    assert not (harness.workspace / "out").exists()
    assert registry.client().tags(repo) == []
    assert_clean(run)
