"""Workflow level: a repository whose workflow checks out and `uses: ./`, run by `act` on the
host as a self-hosted runner would run it, building with the real executor and pushing to the
test registry; the workflow's own later steps read the action's outputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from .conftest import executor_dir
from .support.act import ActProject, ActRun
from .support.images import push_busybox_index
from .support.registry import DOCKER_MANIFEST_LIST, Registry
from .test_e2e_secrets import registry_blobs

pytestmark = [pytest.mark.act, pytest.mark.e2e]


@pytest.fixture
def project(tmp_path: Path) -> ActProject:
    return ActProject(tmp_path)


def common_inputs(registry: Registry) -> dict[str, str]:
    return {
        "executor-dir": str(executor_dir("upstream")),
        "insecure-registries": registry.host,
    }


def assert_runner_dirs_clean(project: ActProject, run: ActRun) -> None:
    """act kept GITHUB_WORKSPACE and RUNNER_TEMP under its cache path, and no build work
    directory was left in either, neither at the end of the job nor after act finished."""
    workspace = Path(run.result("workspace"))
    runner_temp = Path(run.result("runner-temp"))
    assert workspace.parent.parent == project.cache, workspace
    assert workspace.name == "hostexecutor"
    assert runner_temp == workspace.parent / "tmp"
    assert run.results.get("leftover", []) == [], run.log
    assert project.leftovers() == []


def assert_host_clean(run: ActRun) -> None:
    assert run.host_changes == [], "host changed:\n" + "\n".join(run.host_changes)


def test_build_and_push_reports_registry_digest(
    project: ActProject, registry: Registry, busybox_image: str
) -> None:
    project.write("Dockerfile", f"FROM {busybox_image}\nCOPY app.txt /srv/app.txt\n")
    project.write("app.txt", "built by act\n")
    project.workflow(tags=f"{registry.host}/act/simple:1", **common_inputs(registry))
    run = project.run()
    assert run.returncode == 0, run.log
    assert "Job succeeded" in run.log
    assert "Success - Main actions/checkout@v4" in run.log
    manifest = registry.client().get_manifest("act/simple", "1")
    assert run.result("digest") == manifest.digest
    assert run.result("image") == f"{registry.host}/act/simple@{manifest.digest}"
    assert f"action digest output: {manifest.digest}" in run.log
    files = registry.client().image_files("act/simple", "1")
    assert files["srv/app.txt"].text == "built by act\n"
    assert files["bin/busybox"].type == "file"
    assert_runner_dirs_clean(project, run)
    assert_host_clean(run)


def test_failing_run_step_fails_the_job(
    project: ActProject, registry: Registry, busybox_image: str
) -> None:
    project.write(
        "Dockerfile",
        f"FROM {busybox_image}\nRUN echo fine\nRUN echo about-to-fail && exit 3\nRUN echo never\n",
    )
    project.workflow(tags=f"{registry.host}/act/fails:1", **common_inputs(registry))
    run = project.run()
    assert run.returncode != 0, run.log
    assert "Job failed" in run.log
    errors = [line for line in run.log.splitlines() if "::error" in line]
    assert len(errors) == 1, run.log
    # The annotation points at the Dockerfile line of the failing instruction.
    assert (
        "::error title=Build failed,file=Dockerfile,line=3,endLine=3::"
        "instruction `RUN echo about-to-fail && exit 3`"
    ) in errors[0]
    assert "exit status 3" in errors[0]
    assert "digest" not in run.results
    assert "action digest output" not in run.log
    assert registry.client().tags("act/fails") == []
    assert "act/fails" not in registry.client().catalog()
    assert_runner_dirs_clean(project, run)
    assert_host_clean(run)


def test_metadata_action_shaped_tags_and_labels(
    project: ActProject, registry: Registry, busybox_image: str
) -> None:
    project.write("Dockerfile", f"FROM {busybox_image}\nRUN echo meta > /meta\n")
    tags = f"{registry.host}/act/meta:main\n{registry.host}/act/meta:sha-0123abc\n"
    labels = (
        "org.opencontainers.image.title=kaniko-build\n"
        "org.opencontainers.image.description=Built by act = self-hosted\n"
        "org.opencontainers.image.revision=0123abc\n"
    )
    project.workflow(tags=tags, labels=labels, **common_inputs(registry))
    run = project.run()
    assert run.returncode == 0, run.log
    client = registry.client()
    main = client.get_manifest("act/meta", "main")
    sha = client.get_manifest("act/meta", "sha-0123abc")
    assert main.digest == sha.digest
    assert run.result("digest") == main.digest
    assert run.result("image") == f"{registry.host}/act/meta@{main.digest}"
    assert sorted(client.tags("act/meta")) == ["main", "sha-0123abc"]
    assert client.image_config("act/meta", "main")["config"]["Labels"] == {
        "org.opencontainers.image.title": "kaniko-build",
        "org.opencontainers.image.description": "Built by act = self-hosted",
        "org.opencontainers.image.revision": "0123abc",
    }
    assert client.image_files("act/meta", "sha-0123abc")["meta"].text == "meta\n"
    assert_runner_dirs_clean(project, run)
    assert_host_clean(run)


def test_cache_on_then_hits_and_cache_off(
    project: ActProject, registry: Registry, busybox_image: str
) -> None:
    project.write("Dockerfile", f"FROM {busybox_image}\nRUN echo one > /one\nRUN echo two > /two\n")
    cached = {
        "tags": f"{registry.host}/act/cache:1",
        "cache": "true",
        "cache-repo": f"{registry.host}/act/cache-layers",
        **common_inputs(registry),
    }
    project.workflow(**cached)
    first = project.run()
    assert first.returncode == 0, first.log
    assert project.metadata()["cache"] == {"enabled": True, "hits": 0, "misses": 1}
    assert len(registry.client().tags("act/cache-layers")) == 2
    second = project.run()
    assert second.returncode == 0, second.log
    assert project.metadata()["cache"] == {"enabled": True, "hits": 2, "misses": 0}
    assert second.result("digest") == registry.client().get_manifest("act/cache", "1").digest

    project.workflow(tags=f"{registry.host}/act/nocache:1", **common_inputs(registry))
    off = project.run()
    assert off.returncode == 0, off.log
    assert project.metadata()["cache"] == {"enabled": False, "hits": 0, "misses": 0}
    assert "act/nocache/cache" not in registry.client().catalog()
    for run in (first, second, off):
        assert_runner_dirs_clean(project, run)
        assert_host_clean(run)


def test_push_false_with_tar_path(
    project: ActProject, registry: Registry, busybox_image: str
) -> None:
    project.write("Dockerfile", f"FROM {busybox_image}\nRUN echo tar > /tarred\n")
    project.workflow(
        tags=f"{registry.host}/act/tarball:1",
        push="false",
        **{"tar-path": "${{ runner.temp }}/image.tar"},
        **common_inputs(registry),
    )
    run = project.run()
    assert run.returncode == 0, run.log
    members = run.result("tar-members").split()
    assert "manifest.json" in members
    imageid = run.result("imageid")
    assert imageid.startswith("sha256:") and f"{imageid}" in members
    metadata = project.metadata()
    assert metadata["tar-path"].endswith("/tmp/image.tar")
    # Written as a docker tarball, as type=docker,dest= writes it: build-push-action's
    # `digest` is the image manifest's (kaniko's digest file), pushed or not.
    assert run.result("digest") == metadata["containerimage.digest"]
    assert run.result("digest").startswith("sha256:") and run.result("image") == ""
    assert registry.client().tags("act/tarball") == []
    assert_runner_dirs_clean(project, run)
    assert_host_clean(run)


def test_build_push_action_workflow_with_only_uses_changed(
    project: ActProject, registry: Registry, busybox_image: str
) -> None:
    project.write(
        "Dockerfile",
        f'FROM {busybox_image}\nARG VERSION\nRUN echo "$VERSION" > /version\n',
    )
    cache = f"{registry.host}/act/bpa:buildcache"
    project.workflow(
        context=".",
        file="./Dockerfile",
        push="true",
        platforms="linux/amd64",
        pull="true",
        provenance="false",
        tags=f"{registry.host}/act/bpa:main\n{registry.host}/act/bpa:sha-1\n",
        labels="org.opencontainers.image.title=bpa\n",
        **{
            "build-args": "VERSION=1.2.3\n",
            "cache-from": f"type=registry,ref={cache}",
            "cache-to": f"type=registry,ref={cache},mode=max",
        },
        **common_inputs(registry),
    )
    run = project.run()
    assert run.returncode == 0, run.log
    client = registry.client()
    assert run.result("digest") == client.get_manifest("act/bpa", "main").digest
    assert client.get_manifest("act/bpa", "sha-1").digest == run.result("digest")
    assert client.image_files("act/bpa", "main")["version"].text == "1.2.3\n"
    meta = project.metadata()
    assert meta["containerimage.digest"] == run.result("digest")
    assert meta["cache"]["enabled"] is True
    # cache-from/cache-to type=registry became kaniko's cache repository.
    assert len(client.tags("act/bpa")) == 3
    assert "::warning" not in run.log
    assert_runner_dirs_clean(project, run)
    assert_host_clean(run)


def test_workflow_commands_printed_by_a_run_step_are_not_obeyed(
    project: ActProject, registry: Registry, busybox_image: str
) -> None:
    """Through act's own command processing: a Dockerfile that prints `::set-output`,
    `::add-mask::` and `::stop-commands::` changes neither the outputs nor the log."""
    fake = "sha256:" + "e" * 64
    project.write(
        "Dockerfile",
        f"FROM {busybox_image}\n"
        f"RUN echo '::set-output name=digest::{fake}'; echo '::add-mask::visibleword'; "
        "echo '::stop-commands::attacker'\n"
        "RUN echo 'the visibleword stays visible'\n",
    )
    project.workflow(tags=f"{registry.host}/act/commands:1", **common_inputs(registry))
    run = project.run()
    assert run.returncode == 0, run.log
    manifest = registry.client().get_manifest("act/commands", "1")
    assert run.result("digest") == manifest.digest != fake
    assert "the visibleword stays visible" in run.log
    assert_runner_dirs_clean(project, run)
    assert_host_clean(run)


def test_build_push_action_workflow_with_imageid_secrets_and_two_platforms(
    project: ActProject, registry: Registry
) -> None:
    token = "act-Build-Token-5Hj2x9"
    push_busybox_index(registry, "base/act-multi", "1")
    base = registry.ref("base/act-multi", "1")
    project.write(
        "Dockerfile",
        f"FROM --platform=$BUILDPLATFORM {base} AS build\n"
        "ARG TARGETARCH\n"
        "RUN --mount=type=secret,id=token sha256sum < /run/secrets/token > /token.sha"
        " && echo $TARGETARCH > /arch\n"
        f"FROM {base}\n"
        "COPY --from=build /token.sha /arch /\n",
    )
    project.secrets({"BUILD_TOKEN": token})
    project.workflow(
        context=".",
        file="./Dockerfile",
        push="true",
        platforms="linux/amd64,linux/arm64",
        tags=f"{registry.host}/act/multi:1\n{registry.host}/act/multi:latest\n",
        secrets="token=${{ secrets.BUILD_TOKEN }}\n",
        **{
            "executor-dir": str(executor_dir("fork")),
            "insecure-registries": registry.host,
        },
    )
    run = project.run()
    assert run.returncode == 0, run.log
    client = registry.client()
    index = client.get_manifest("act/multi", "1")
    assert index.media_type == DOCKER_MANIFEST_LIST
    assert sorted(client.tags("act/multi")) == ["1", "latest"]
    assert run.result("digest") == index.digest
    # The workflow's next step got the imageid: for several platforms, the index digest.
    assert run.result("imageid") == index.digest
    sha = hashlib.sha256(token.encode()).hexdigest() + "  -\n"
    for entry in index.manifest["manifests"]:
        arch = entry["platform"]["architecture"]
        files = client.image_files("act/multi", entry["digest"], f"linux/{arch}")
        assert files["arch"].text == f"{arch}\n"
        assert files["token.sha"].text == sha
    assert [p["platform"] for p in project.metadata()["platforms"]] == [
        "linux/amd64",
        "linux/arm64",
    ]
    assert token not in run.log
    assert not any(token.encode() in blob for blob in registry_blobs(client).values())
    assert_runner_dirs_clean(project, run)
    assert_host_clean(run)
