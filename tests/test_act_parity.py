"""build-push-action workflows, written as Docker's documentation and build-push-action's
README write them, run through act with `docker/build-push-action@v6` replaced by this action
(`uses: ./`) and judged from outside: the registry's API and files on disk.

Two inputs are added to each step, standing in for what a real runner has: `executor-dir`
(the runner image has kaniko at /kaniko) and `insecure-registries` (the test registry speaks
plain HTTP). Steps of other actions (setup-buildx-action, setup-qemu-action, login-action,
metadata-action) cannot run here without network and are left out; they have no part in what
the build does. `/tmp/...` paths become paths in the test's directory."""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest

from .conftest import executor_dir
from .support.act import WORKFLOW, ActProject, ActRun
from .support.registry import Registry

pytestmark = [pytest.mark.act, pytest.mark.e2e]

HEAD = """\
name: ci
on: push
permissions:
  contents: read
jobs:
  docker:
    runs-on: self-hosted
    steps:
      - name: Checkout
        uses: actions/checkout@v4
"""


def workflow_for(registry: Registry, steps: str) -> str:
    """The workflow of `steps` with build-push-action replaced by this action."""
    stand_ins = (
        f"          executor-dir: {executor_dir('fork')}\n"
        f"          insecure-registries: {registry.host}\n"
    )
    return HEAD + steps.replace("uses: docker/build-push-action@v6\n        with:\n",
                                "uses: ./\n        with:\n" + stand_ins)  # fmt: skip


def run_workflow(tmp_path: Path, registry: Registry, steps: str, files: dict[str, str]) -> ActRun:
    tmp_path.mkdir(exist_ok=True)
    project = ActProject(tmp_path)
    for name, text in files.items():
        project.write(name, text)
    project.write(WORKFLOW, workflow_for(registry, steps))
    run = project.run()
    assert run.host_changes == [], "\n".join(run.host_changes)
    return run


def test_path_context_push_and_the_digest_output(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """build-push-action's "Path context" and "Export image digest" examples."""
    steps = f"""\
      - name: Build and push
        id: build
        uses: docker/build-push-action@v6
        with:
          context: .
          push: true
          tags: {registry.host}/parity/app:latest
      - name: Image digest
        env:
          DIGEST: ${{{{ steps.build.outputs.digest }}}}
        run: echo "parity digest=$DIGEST"
"""
    run = run_workflow(tmp_path, registry, steps, {
        "Dockerfile": f"FROM {busybox_image}\nCOPY app.txt /srv/\n", "app.txt": "path\n",
    })  # fmt: skip
    assert run.returncode == 0, run.log
    manifest = registry.client().get_manifest("parity/app", "latest")
    assert f"parity digest={manifest.digest}" in run.log


def test_build_args_labels_and_target(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    steps = f"""\
      - name: Build and push
        uses: docker/build-push-action@v6
        with:
          context: .
          file: ./docker/Dockerfile
          target: release
          build-args: |
            VERSION=1.2.3
          labels: |
            org.opencontainers.image.version=1.2.3
          push: true
          tags: {registry.host}/parity/args:1.2.3
"""
    dockerfile = (
        f"FROM {busybox_image} AS build\nARG VERSION\nRUN echo $VERSION > /version\n"
        f"FROM {busybox_image} AS release\nCOPY --from=build /version /version\n"
        f"FROM {busybox_image} AS debug\nRUN false\n"
    )
    run = run_workflow(tmp_path, registry, steps, {"docker/Dockerfile": dockerfile})
    assert run.returncode == 0, run.log
    client = registry.client()
    assert client.image_files("parity/args", "1.2.3")["version"].text == "1.2.3\n"
    labels = client.image_config("parity/args", "1.2.3")["config"]["Labels"]
    assert labels == {"org.opencontainers.image.version": "1.2.3"}


def test_the_documented_local_cache_with_its_move_step(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """Docker's "Local cache" example: read /tmp/.buildx-cache, write a new directory, move
    it into place in a later step; the second run of the job hits the cache."""
    cache = tmp_path / "buildx-cache"
    steps = f"""\
      - name: Build and push
        uses: docker/build-push-action@v6
        with:
          context: .
          push: true
          tags: {registry.host}/parity/cached:latest
          cache-from: type=local,src={cache}
          cache-to: type=local,dest={cache}-new,mode=max
      - # Temp fix
        # https://github.com/docker/build-push-action/issues/252
        # https://github.com/moby/buildkit/issues/1896
        name: Move cache
        run: |
          rm -rf {cache}
          mv {cache}-new {cache}
"""
    files = {"Dockerfile": f"FROM {busybox_image}\nRUN echo slow step > /slow\n"}
    first = run_workflow(tmp_path / "first", registry, steps, files)
    assert first.returncode == 0, first.log
    assert "No cached layer found for cmd RUN echo slow step" in first.log
    second = run_workflow(tmp_path / "second", registry, steps, files)
    assert second.returncode == 0, second.log
    assert "Using caching version of cmd: RUN echo slow step" in second.log
    assert any(p.name.startswith("kaniko:") for p in cache.iterdir())


def _saved_archives(project: ActProject) -> list[Path]:
    """The cache entries act's cache server holds (one archive file each)."""
    storage = project.cache_server_dir / "cache"
    return sorted(
        p for p in storage.rglob("*") if p.is_file() and p.relative_to(storage).parts[0] != "tmp"
    )


def test_the_documented_github_actions_cache(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """Docker's "GitHub Actions cache" example (`type=gha`, `mode=max`), run three times on
    one cache service: the first run saves kaniko's layer cache, the second restores it,
    builds every step from it and saves nothing new, the third (a source file changed)
    builds the changed steps and saves a new entry, which is what a restore finds next."""
    project = ActProject(tmp_path, cache_server=True)
    project.write(WORKFLOW, workflow_for(registry, f"""\
      - name: Build and push
        uses: docker/build-push-action@v6
        with:
          context: .
          push: true
          tags: {registry.host}/parity/gha:latest
          cache-from: type=gha
          cache-to: type=gha,mode=max
"""))  # fmt: skip
    project.write(
        "Dockerfile",
        f"FROM {busybox_image}\nRUN echo slow step > /slow\nCOPY app.txt /srv/\n"
        "RUN cat /srv/app.txt > /copy\nCOPY . /ctx/\n",
    )
    project.write("app.txt", "one\n")

    def run() -> ActRun:
        done = project.run()
        assert done.returncode == 0, done.log
        assert done.host_changes == [], "\n".join(done.host_changes)
        # The action's last step removed the cache directory from RUNNER_TEMP.
        assert sorted(project.cache.rglob(".kaniko-build-gha-cache-*")) == []
        return done

    def saved_key(log: str) -> str:
        keys: list[str] = re.findall(
            r"Cache saved with key: (kaniko-build-cache/buildkit/[0-9a-f]{32})", log
        )
        assert len(keys) == 1, log
        return keys[0]

    first = run()
    assert "No cached layer found for cmd RUN echo slow step" in first.log
    key = saved_key(first.log)
    assert len(_saved_archives(project)) == 1

    second = run()
    assert f"Cache restored from key: {key}" in second.log
    assert "Using caching version of cmd: RUN echo slow step" in second.log
    assert "Using caching version of cmd: RUN cat /srv/app.txt > /copy" in second.log
    assert "not saved again" in second.log and "Cache saved with key" not in second.log
    assert len(_saved_archives(project)) == 1

    project.write("app.txt", "two\n")
    third = run()
    assert f"Cache restored from key: {key}" in third.log
    assert "Using caching version of cmd: RUN echo slow step" in third.log
    assert "No cached layer found for cmd RUN cat /srv/app.txt > /copy" in third.log
    assert saved_key(third.log) != key
    assert len(_saved_archives(project)) == 2
    files = registry.client().image_files("parity/gha", "latest")
    assert files["copy"].text == "two\n" and files["ctx/app.txt"].text == "two\n"
    # The restored cache was in the workspace during the build, never in its context.
    assert not [name for name in files if ".kaniko-build-gha-cache" in name]


def test_local_and_tar_exports(tmp_path: Path, registry: Registry, busybox_image: str) -> None:
    """Docker's "Local and tar exporters", into RUNNER_TEMP as Docker's "Share built image
    between jobs" example writes its tarball; a later step of the job reads them."""
    steps = """\
      - name: Export to a directory
        uses: docker/build-push-action@v6
        with:
          context: .
          outputs: type=local,dest=${{ runner.temp }}/out
      - name: Export to a tarball
        uses: docker/build-push-action@v6
        with:
          context: .
          outputs: type=tar,dest=${{ runner.temp }}/rootfs.tar
      - name: Use them
        run: |
          echo "parity local=$(cat "$RUNNER_TEMP/out/srv/app.txt")"
          echo "parity tar=$(tar -xOf "$RUNNER_TEMP/rootfs.tar" srv/app.txt)"
"""
    run = run_workflow(tmp_path, registry, steps, {
        "Dockerfile": f"FROM {busybox_image}\nCOPY app.txt /srv/\n", "app.txt": "exported\n",
    })  # fmt: skip
    assert run.returncode == 0, run.log
    assert "parity local=exported" in run.log and "parity tar=exported" in run.log


def test_named_contexts_replace_a_base_image(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """Docker's "Named contexts" example: `alpine` in the Dockerfile comes from the context."""
    steps = f"""\
      - name: Build
        uses: docker/build-push-action@v6
        with:
          context: .
          build-contexts: |
            alpine=docker-image://{busybox_image}
          push: true
          tags: {registry.host}/parity/named:latest
"""
    run = run_workflow(tmp_path, registry, steps, {
        "Dockerfile": "FROM alpine\nRUN echo from the context > /marker\n",
    })  # fmt: skip
    assert run.returncode == 0, run.log
    assert registry.client().image_files("parity/named", "latest")["marker"].text == (
        "from the context\n"
    )


def test_test_before_push_is_refused_with_the_reason(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """Docker's "Test before push" example loads the image into the Docker daemon: there is
    none here, and the step says so before anything is built."""
    steps = f"""\
      - name: Build and export to Docker
        uses: docker/build-push-action@v6
        with:
          load: true
          tags: {registry.host}/parity/test:latest
"""
    run = run_workflow(tmp_path, registry, steps, {"Dockerfile": f"FROM {busybox_image}\n"})
    assert run.returncode != 0
    assert "input 'load'" in run.log and "no Docker daemon" in run.log


def report_outputs(step: str, reports: Path) -> str:
    """A step writing step `step`'s digest, imageid and metadata outputs into `reports`, each
    in a file of its own (an empty file: the output is empty)."""
    return f"""\
      - name: Report the outputs of {step}
        env:
          DIGEST: ${{{{ steps.{step}.outputs.digest }}}}
          IMAGEID: ${{{{ steps.{step}.outputs.imageid }}}}
          METADATA: ${{{{ steps.{step}.outputs.metadata }}}}
        run: |
          mkdir -p {reports}/{step}
          printf '%s' "$DIGEST" > {reports}/{step}/digest
          printf '%s' "$IMAGEID" > {reports}/{step}/imageid
          printf '%s' "$METADATA" > {reports}/{step}/metadata
"""


def reported(reports: Path, step: str) -> tuple[str, str, dict[str, Any]]:
    """(digest, imageid, metadata) as the job's next step received them."""
    folder = reports / step
    metadata = json.loads((folder / "metadata").read_text())
    assert isinstance(metadata, dict)
    return (folder / "digest").read_text(), (folder / "imageid").read_text(), metadata


BUILDX_KEYS = ("containerimage.", "image.name")


def test_build_only_sets_the_outputs_buildx_sets_without_an_export(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """No push and no `outputs` (buildx with the docker-container driver of
    setup-buildx-action: the result stays in the build cache): `digest` and `imageid` empty,
    `metadata` set, without the keys of an image export."""
    reports = tmp_path / "reports"
    steps = f"""\
      - name: Build
        id: build
        uses: docker/build-push-action@v6
        with:
          context: .
          push: false
          tags: {registry.host}/parity/built:latest
""" + report_outputs("build", reports)
    run = run_workflow(tmp_path / "job", registry, steps, {
        "Dockerfile": f"FROM {busybox_image}\nCOPY app.txt /srv/\n", "app.txt": "built\n",
    })  # fmt: skip
    assert run.returncode == 0, run.log
    digest, imageid, metadata = reported(reports, "build")
    assert (digest, imageid) == ("", "")
    assert [k for k in metadata if k.startswith(BUILDX_KEYS)] == []
    assert metadata["base-images"] == [busybox_image]
    assert registry.client().tags("parity/built") == []


def test_a_docker_tarball_sets_digest_and_imageid_of_the_image_it_holds(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """Docker's "Share built image between jobs" writes a docker tarball (type=docker,dest=):
    `imageid` is the config the tarball holds, `digest` the manifest of its image. A second
    step pushes the same build (the action's `reproducible` input makes kaniko build the same
    image twice): the registry's manifest has that digest and names the tarball's config and
    layers."""
    reports = tmp_path / "reports"
    saved = tmp_path / "saved.tar"
    steps = (
        f"""\
      - name: Build and export
        id: export
        uses: docker/build-push-action@v6
        with:
          context: .
          tags: {registry.host}/parity/shared:latest
          outputs: type=docker,dest=${{{{ runner.temp }}}}/myimage.tar
          reproducible: true
"""
        + report_outputs("export", reports)
        + f"""\
      - name: Keep the tarball
        run: cp "$RUNNER_TEMP/myimage.tar" {saved}
      - name: Build and push the same
        id: push
        uses: docker/build-push-action@v6
        with:
          context: .
          push: true
          tags: {registry.host}/parity/shared:latest
          reproducible: true
"""
        + report_outputs("push", reports)
    )
    run = run_workflow(tmp_path / "job", registry, steps, {
        "Dockerfile": f"FROM {busybox_image}\nCOPY app.txt /srv/\n", "app.txt": "shared\n",
    })  # fmt: skip
    assert run.returncode == 0, run.log
    digest, imageid, metadata = reported(reports, "export")
    with tarfile.open(saved) as tar:
        (entry,) = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        config = tar.extractfile(entry["Config"]).read()  # type: ignore[union-attr]
    assert entry["RepoTags"] == [f"{registry.host}/parity/shared:latest"]
    assert imageid == "sha256:" + hashlib.sha256(config).hexdigest()
    assert metadata["containerimage.config.digest"] == imageid
    assert metadata["containerimage.digest"] == digest
    assert metadata["image.name"] == f"{registry.host}/parity/shared:latest"
    pushed = registry.client().get_manifest("parity/shared", "latest")
    assert digest == pushed.digest
    assert pushed.manifest["config"]["digest"] == imageid
    layers = [layer["digest"].removeprefix("sha256:") for layer in pushed.manifest["layers"]]
    assert [name.split(".")[0].removeprefix("sha256:") for name in entry["Layers"]] == layers
    assert reported(reports, "push")[:2] == (digest, imageid)


def test_a_push_sets_the_registrys_digest_and_config_digest(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """`digest` is the manifest the registry holds under the tag, `imageid` the config that
    manifest names, `metadata` has buildx's keys for them."""
    reports = tmp_path / "reports"
    steps = f"""\
      - name: Build and push
        id: build
        uses: docker/build-push-action@v6
        with:
          context: .
          push: true
          tags: {registry.host}/parity/pushed:1,{registry.host}/parity/pushed:latest
""" + report_outputs("build", reports)
    run = run_workflow(tmp_path / "job", registry, steps, {
        "Dockerfile": f"FROM {busybox_image}\nCOPY app.txt /srv/\n", "app.txt": "pushed\n",
    })  # fmt: skip
    assert run.returncode == 0, run.log
    digest, imageid, metadata = reported(reports, "build")
    client = registry.client()
    pushed = client.get_manifest("parity/pushed", "1")
    _digest, body, media_type = client.get_manifest_bytes("parity/pushed", "latest")
    assert digest == pushed.digest == _digest
    assert imageid == pushed.manifest["config"]["digest"]
    assert {k: v for k, v in metadata.items() if k.startswith(BUILDX_KEYS)} == {
        "containerimage.digest": digest,
        "containerimage.config.digest": imageid,
        "containerimage.descriptor": {"mediaType": media_type, "digest": digest, "size": len(body)},
        "image.name": f"{registry.host}/parity/pushed:1,{registry.host}/parity/pushed:latest",
    }


def test_push_true_with_a_local_export_pushes_and_exports(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """`push: true` with `outputs: type=local,dest=...`: buildx's --push adds a push to the
    local export, so the image is pushed and its filesystem written; build-push-action passes
    no image ID file with a local export, so `imageid` stays empty."""
    reports = tmp_path / "reports"
    steps = f"""\
      - name: Build, push and export
        id: build
        uses: docker/build-push-action@v6
        with:
          context: .
          push: true
          tags: {registry.host}/parity/both:latest
          outputs: type=local,dest=${{{{ runner.temp }}}}/out
      - name: Read the export
        run: echo "parity local=$(cat "$RUNNER_TEMP/out/srv/app.txt")"
""" + report_outputs("build", reports)
    run = run_workflow(tmp_path / "job", registry, steps, {
        "Dockerfile": f"FROM {busybox_image}\nCOPY app.txt /srv/\n", "app.txt": "both\n",
    })  # fmt: skip
    assert run.returncode == 0, run.log
    assert "parity local=both" in run.log
    digest, imageid, metadata = reported(reports, "build")
    client = registry.client()
    assert client.image_files("parity/both", "latest")["srv/app.txt"].text == "both\n"
    assert digest == client.get_manifest("parity/both", "latest").digest
    assert imageid == ""
    assert metadata["containerimage.digest"] == digest


def test_share_an_image_between_jobs_through_a_tarball_outside_the_workspace(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """Docker's "Share built image between jobs" example writes `type=docker,dest=/tmp/...`
    and uploads it; the upload is a later step reading the file (here: listing it). The
    directory stands in for /tmp: outside the workspace and RUNNER_TEMP, the job user's."""
    shared = tmp_path / "tmp"
    shared.mkdir(parents=True)
    steps = f"""\
      - name: Build and export
        uses: docker/build-push-action@v6
        with:
          tags: myimage:latest
          outputs: type=docker,dest={shared}/myimage.tar
      - name: Upload artifact
        run: echo "parity members=$(tar -tf {shared}/myimage.tar | sort | xargs)"
"""
    run = run_workflow(tmp_path, registry, steps, {
        "Dockerfile": f"FROM {busybox_image}\nRUN echo shared > /shared\n",
    })  # fmt: skip
    assert run.returncode == 0, run.log
    assert "manifest.json" in run.log.split("parity members=", 1)[1].splitlines()[0]
    # Nothing pushed: build-push-action pushes nothing without `push: true`.
    assert [repo for repo in registry.client().catalog() if "myimage" in repo] == []


def test_push_to_several_repositories_at_once(
    tmp_path: Path, registry: Registry, busybox_image: str
) -> None:
    """Docker's "Push to multi-registries" example: one build, every tag pushed, one digest
    (two repositories of the test registry stand for Docker Hub and GHCR)."""
    steps = f"""\
      - name: Build and push
        id: build
        uses: docker/build-push-action@v6
        with:
          push: true
          tags: |
            {registry.host}/hub/app:latest
            {registry.host}/hub/app:1.0.0
            {registry.host}/ghcr/app:latest
            {registry.host}/ghcr/app:1.0.0
      - name: Image digest
        env:
          DIGEST: ${{{{ steps.build.outputs.digest }}}}
        run: echo "parity digest=$DIGEST"
"""
    run = run_workflow(tmp_path, registry, steps, {"Dockerfile": f"FROM {busybox_image}\n"})
    assert run.returncode == 0, run.log
    client = registry.client()
    digests = {
        client.get_manifest(repo, tag).digest
        for repo in ("hub/app", "ghcr/app")
        for tag in ("latest", "1.0.0")
    }
    assert len(digests) == 1
    assert f"parity digest={digests.pop()}" in run.log
