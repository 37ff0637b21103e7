"""The metadata output and the job summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kaniko_action.build.outputs import publish
from kaniko_action.build.report import BuildReport, assemble, summary_markdown
from kaniko_action.build.single import BuildOutcome
from kaniko_action.executor.results import PushResult
from kaniko_action.oci.built import BuiltImage, built_image
from kaniko_action.oci.layout import Descriptor
from kaniko_action.oci.media import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST
from kaniko_action.spec.build_spec import build_spec
from kaniko_action.spec.inputs import DEFAULTS
from kaniko_action.workflow.commands import Workflow

MANIFEST = "sha256:" + "1" * 64
CONFIG = "sha256:" + "2" * 64
INDEX = "sha256:" + "3" * 64
TAG = "reg:5000/app:1"
TWO = "linux/amd64,linux/arm64"
# What each kind of build leaves (oci/built.py): the pushed manifest read back, an OCI
# layout's manifest, kaniko's digest file with the tarball's config, the index over platforms.
PUSHED = BuiltImage(MANIFEST, DOCKER_MANIFEST, 528, CONFIG)
LAYOUT = BuiltImage(MANIFEST, OCI_MANIFEST, 480, CONFIG)
DIGEST_FILE = BuiltImage(MANIFEST, config_digest=CONFIG)
DIGEST_ONLY = BuiltImage(MANIFEST)
INDEXED = BuiltImage(INDEX, DOCKER_MANIFEST_LIST, 700)


def pushed() -> BuildReport:
    return BuildReport(
        destinations=["reg/app:1", "reg/app:latest"],
        pushed=True,
        digest="sha256:" + "a" * 64,
        image="reg/app@sha256:" + "a" * 64,
        image_name="reg/app:1,reg/app:latest",
        kaniko_version="v1.24.0",
        base_images=["debian:bookworm"],
        cache_enabled=True,
        cache_hits=3,
        cache_misses=1,
        phases={"Build": 10.04, "Push": 1.5},
        duration=12.3456,
    )


def test_metadata_has_build_push_action_keys() -> None:
    meta = json.loads(pushed().metadata())
    assert meta["containerimage.digest"] == meta["digest"] == "sha256:" + "a" * 64
    assert meta["image.name"] == "reg/app:1,reg/app:latest"
    assert meta["destinations"] == ["reg/app:1", "reg/app:latest"]
    assert meta["cache"] == {"enabled": True, "hits": 3, "misses": 1}
    assert meta["duration-seconds"] == 12.346
    assert meta["kaniko.version"] == "v1.24.0"


def test_not_pushed_lists_no_destinations() -> None:
    report = BuildReport(destinations=["reg/app:1"], tar_path="/w/image.tar")
    meta = json.loads(report.metadata())
    assert meta["destinations"] == []
    assert meta["tar-path"] == "/w/image.tar"
    text = summary_markdown(report)
    assert text.startswith("### kaniko-build: image built\n")
    assert "| Name | `reg/app:1` |" in text
    assert "| Tarball | `/w/image.tar` |" in text


def test_summary_of_a_push() -> None:
    text = summary_markdown(pushed())
    assert "| Destination | `reg/app:latest` |" in text
    assert f"| Digest | `sha256:{'a' * 64}` |" in text
    assert "| Base image | `debian:bookworm` |" in text
    assert "| Cache | 3 hit(s), 1 miss(es) |" in text
    assert "| Duration | 12.3s (Build 10.0s, Push 1.5s) |" in text


def test_summary_of_a_failure_escapes_table_characters() -> None:
    report = BuildReport(
        destinations=["reg/app:1"],
        failure="instruction `RUN a | b` failed",
        failure_location="Dockerfile:4",
    )
    text = summary_markdown(report)
    assert text.startswith("### kaniko-build: image failed\n")
    assert "**Failure (Dockerfile:4):** `instruction 'RUN a \\| b' failed`" in text


def test_line_breaks_from_build_output_cannot_leave_the_table_row() -> None:
    report = BuildReport(
        destinations=["reg/app:1"],
        failure="step failed\r| injected | row |\n# heading",
        failure_location="Dockerfile:3",
    )
    text = summary_markdown(report)
    failure_line = next(line for line in text.splitlines() if line.startswith("**Failure"))
    assert "\r" not in text
    assert "injected" in failure_line and "heading" in failure_line
    assert not any(line.startswith("# heading") for line in text.splitlines())


def test_summary_says_how_run_steps_ran() -> None:
    report = BuildReport(
        destinations=["reg/app:1"],
        run_environment="chroot without /proc (a | b)",
    )
    assert "| RUN steps | chroot without /proc (a \\| b) |" in summary_markdown(report)
    assert "RUN steps" not in summary_markdown(BuildReport(destinations=["reg/app:1"]))


class Recorder(Workflow):
    """A workflow that keeps the outputs set."""

    def __init__(self) -> None:
        super().__init__({})
        self.outputs: dict[str, str] = {}

    def set_output(self, name: str, value: str) -> None:
        self.outputs[name] = value


def descriptor(image: BuiltImage) -> dict[str, Any]:
    return {"mediaType": image.media_type, "digest": image.digest, "size": image.size}


# case -> inputs, what the build left, then build-push-action's `digest` and `imageid` and
# buildx's metadata keys (buildx leaves a key out where it has nothing to say).
CASES = [
    ("push", {"tags": TAG, "push": "true"}, PUSHED, MANIFEST, CONFIG, {
        "containerimage.digest": MANIFEST,
        "containerimage.config.digest": CONFIG,
        "containerimage.descriptor": descriptor(PUSHED),
        "image.name": TAG,
    }),
    ("push, registry did not tell the config", {"tags": TAG, "push": "true"}, DIGEST_ONLY,
     MANIFEST, None, {"containerimage.digest": MANIFEST, "image.name": TAG}),
    ("build only", {"tags": TAG, "push": "false"}, DIGEST_ONLY, None, None, {}),
    ("build only, no tags", {}, None, None, None, {}),
    ("type=docker", {"tags": TAG, "outputs": "type=docker,dest=out/i.tar"}, DIGEST_FILE,
     MANIFEST, CONFIG, {
        "containerimage.digest": MANIFEST,
        "containerimage.config.digest": CONFIG,
        "image.name": TAG,
    }),
    ("tar-path", {"tags": "app", "push": "false", "tar_path": "out/i.tar"}, DIGEST_FILE,
     MANIFEST, CONFIG, {
        "containerimage.digest": MANIFEST,
        "containerimage.config.digest": CONFIG,
        "image.name": "docker.io/library/app:latest",
    }),
    ("type=oci tarball", {"tags": TAG, "outputs": "type=oci,dest=out/i.tar"}, LAYOUT,
     MANIFEST, CONFIG, {
        "containerimage.digest": MANIFEST,
        "containerimage.config.digest": CONFIG,
        "containerimage.descriptor": descriptor(LAYOUT),
        "image.name": TAG,
    }),
    ("type=oci directory, no tags", {"outputs": "type=oci,dest=out/l,tar=false"}, LAYOUT,
     MANIFEST, CONFIG, {
        "containerimage.digest": MANIFEST,
        "containerimage.config.digest": CONFIG,
        "containerimage.descriptor": descriptor(LAYOUT),
    }),
    ("type=local", {"tags": TAG, "outputs": "type=local,dest=out"}, DIGEST_ONLY, None, None, {}),
    ("type=tar", {"outputs": "type=tar,dest=out/fs.tar"}, None, None, None, {}),
    ("type=cacheonly", {"tags": TAG, "outputs": "type=cacheonly"}, DIGEST_ONLY, None, None, {}),
    ("push and type=local", {"tags": TAG, "push": "true", "outputs": "type=local,dest=out"},
     PUSHED, MANIFEST, None, {
        "containerimage.digest": MANIFEST,
        "containerimage.config.digest": CONFIG,
        "containerimage.descriptor": descriptor(PUSHED),
        "image.name": TAG,
    }),
    ("platforms, pushed", {"tags": TAG, "push": "true", "platforms": TWO}, INDEXED, INDEX,
     INDEX, {
        "containerimage.digest": INDEX,
        "containerimage.descriptor": descriptor(INDEXED),
        "image.name": TAG,
    }),
    ("platforms, type=oci", {"tags": TAG, "platforms": TWO, "outputs": "type=oci,dest=o.tar"},
     INDEXED, INDEX, INDEX, {
        "containerimage.digest": INDEX,
        "containerimage.descriptor": descriptor(INDEXED),
        "image.name": TAG,
    }),
    ("platforms, not pushed", {"tags": TAG, "platforms": TWO}, None, None, None, {}),
    ("platforms, type=local", {"platforms": TWO, "outputs": "type=local,dest=out"}, INDEXED,
     None, None, {}),
]  # fmt: skip
BUILDX_KEYS = ("containerimage.", "image.name", "buildx.")


@pytest.mark.parametrize(
    ("inputs", "image", "digest", "imageid", "keys"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_outputs_are_set_when_and_as_build_push_action_sets_them(
    tmp_path: Path,
    inputs: dict[str, str],
    image: BuiltImage | None,
    digest: str | None,
    imageid: str | None,
    keys: dict[str, Any],
) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    raw = {**DEFAULTS, **{k.replace("_", "-"): v for k, v in inputs.items()}}
    spec = build_spec(raw, str(tmp_path))
    pushed = (
        PushResult(image.digest, (f"reg:5000/app@{image.digest}",)) if spec.push and image else None
    )
    report = assemble(spec, BuildOutcome(pushed=pushed, image=image), {}, 1.0)
    workflow = Recorder()
    publish(spec, report, workflow)
    assert workflow.outputs.get("digest") == digest
    assert workflow.outputs.get("imageid") == imageid
    meta = json.loads(workflow.outputs["metadata"])
    assert {k: v for k, v in meta.items() if k.startswith(BUILDX_KEYS)} == keys
    # The action's own keys say the same.
    assert (meta["digest"], meta["imageid"]) == (digest, imageid)
    assert ("image" in workflow.outputs) == spec.push


@pytest.mark.parametrize(
    ("pushed", "digest_file", "layout", "config", "expected"),
    [
        (PUSHED, MANIFEST, None, None, PUSHED),
        (DIGEST_ONLY, MANIFEST, None, CONFIG, BuiltImage(MANIFEST, config_digest=CONFIG)),
        (None, MANIFEST, Descriptor(OCI_MANIFEST, MANIFEST, 480), CONFIG, LAYOUT),
        (None, MANIFEST, None, CONFIG, DIGEST_FILE),
        (None, MANIFEST, None, None, DIGEST_ONLY),
        (None, None, Descriptor("", MANIFEST, 480), None, BuiltImage(MANIFEST, None, 480)),
        (None, None, None, CONFIG, None),
    ],
)  # fmt: skip
def test_the_built_image_from_what_the_build_left(
    pushed: BuiltImage | None,
    digest_file: str | None,
    layout: Descriptor | None,
    config: str | None,
    expected: BuiltImage | None,
) -> None:
    assert built_image(pushed, digest_file, layout, config) == expected


def test_a_failed_build_reports_no_image(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    spec = build_spec({**DEFAULTS, "tags": TAG, "push": "true"}, str(tmp_path))
    report = assemble(spec, None, {}, 1.0, failure="boom")
    assert (report.digest, report.image_id) == (None, None)
    assert report.buildx_metadata() == {}
