"""End to end: the action's own registry requests (image ID after a push, multi-platform
pushes) against a registry with token authentication, and with credentials that only a
credential helper inside the chroot can give."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import executor_dir
from .support.action import ActionHarness
from .support.hostcheck import files_holding
from .support.images import HOST_BUSYBOX, push_busybox, push_busybox_index
from .support.registry import DOCKER_MANIFEST_LIST, Registry
from .support.token_server import TokenServer
from .test_e2e_build import assert_clean

pytestmark = pytest.mark.e2e

USER, PASSWORD = "builder", "tok-pw-Zx81!q"


@pytest.fixture(scope="module")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TokenServer, Registry]]:
    base = tmp_path_factory.mktemp("token-registry")
    with (
        TokenServer.start(base / "server", {USER: PASSWORD}) as server,
        Registry.start(
            base / "registry", users={USER: PASSWORD}, token_auth=server.registry_auth()
        ) as registry,
    ):
        push_busybox(registry, "base/busybox", "latest")
        push_busybox_index(registry.client(), "base/multi", "1")
        yield server, registry


def test_push_and_image_id_through_token_auth(
    harness: ActionHarness, token_registry: tuple[TokenServer, Registry]
) -> None:
    server, registry = token_registry
    repo = f"tok/single-{harness.executor_dir.parent.name}"
    harness.write("Dockerfile", f"FROM {registry.host}/base/busybox:latest\nRUN echo t > /t\n")
    run = harness.run(
        tags=f"{registry.host}/{repo}:1",
        insecure_registries=registry.host,
        username=USER,
        password=PASSWORD,
    )
    assert run.returncode == 0, run.stdout
    manifest = registry.client().get_manifest(repo, "1")
    assert run.outputs["digest"] == manifest.digest
    assert run.outputs["imageid"] == manifest.manifest["config"]["digest"]
    assert "::warning" not in run.stdout
    assert any(r.user == USER and f"repository:{repo}:pull" in r.scopes for r in server.requests)
    assert PASSWORD not in "\n".join(
        line for line in run.stdout.splitlines() if not line.startswith("::add-mask::")
    )
    assert_clean(run)


@pytest.mark.parametrize("harness", ["fork"], indirect=True)
def test_multi_platform_push_through_token_auth_mounts_base_layers(
    harness: ActionHarness, token_registry: tuple[TokenServer, Registry]
) -> None:
    server, registry = token_registry
    base = f"{registry.host}/base/multi:1"
    harness.write(
        "Dockerfile",
        f"FROM --platform=$BUILDPLATFORM {base} AS build\nARG TARGETARCH\n"
        f'RUN echo "$TARGETARCH" > /arch\nFROM {base}\nCOPY --from=build /arch /arch\n',
    )
    first = len(server.requests)
    run = harness.run(
        tags=f"{registry.host}/tok/multi:1",
        platforms="linux/amd64,linux/arm64",
        insecure_registries=registry.host,
        username=USER,
        password=PASSWORD,
    )
    assert run.returncode == 0, run.stdout
    client = registry.client()
    assert client.tags("tok/multi") == ["1"]
    index = client.get_manifest("tok/multi", "1")
    assert index.media_type == DOCKER_MANIFEST_LIST
    assert run.outputs["digest"] == index.digest
    archs = {
        e["platform"]["architecture"]: client.image_files("tok/multi", e["digest"])["arch"].text
        for e in index.manifest["manifests"]
    }
    assert archs == {"amd64": "amd64\n", "arm64": "arm64\n"}
    # The base layer was mounted from the base repository: a token for both repositories.
    scopes = [set(r.scopes) for r in server.requests[first:]]
    assert {"repository:base/multi:pull", "repository:tok/multi:pull,push"} in scopes
    assert_clean(run)


HELPER = """#!/.kaniko-build/busybox sh
read -r server
if [ "$KANIKO_DIR" = /.kaniko-build ] && [ "$server" = "{host}" ]; then
  printf '{{"ServerURL":"%s","Username":"{user}","Secret":"{password}"}}' "$server"
else
  exit 1
fi
"""


@pytest.fixture
def helper_executor(tmp_path: Path, token_registry: tuple[TokenServer, Registry]) -> Path:
    """The maintained executor's directory plus busybox and a credential helper script that
    answers only inside the chroot, with the executor's environment."""
    _server, registry = token_registry
    source = executor_dir("fork")
    target = tmp_path / "executor"
    shutil.copytree(source, target, copy_function=_link_or_copy)
    shutil.copy2(HOST_BUSYBOX, target / "busybox")
    helper = target / "docker-credential-kbtest"
    helper.write_text(HELPER.format(host=registry.host, user=USER, password=PASSWORD))
    helper.chmod(0o755)
    return target


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def test_credential_helper_runs_inside_the_chroot(
    tmp_path: Path, helper_executor: Path, token_registry: tuple[TokenServer, Registry]
) -> None:
    server, registry = token_registry
    workspace, runner_temp = tmp_path / "workspace", tmp_path / "runner-temp"
    workspace.mkdir()
    runner_temp.mkdir()
    harness = ActionHarness(workspace, runner_temp, helper_executor)
    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    (config_dir / "config.json").write_text(json.dumps({"credHelpers": {registry.host: "kbtest"}}))
    harness.extra_env["DOCKER_CONFIG"] = str(config_dir)
    harness.write("Dockerfile", f"FROM {registry.host}/base/busybox:latest\nRUN echo h > /h\n")
    first = len(server.requests)
    run = harness.run(tags=f"{registry.host}/tok/helper:1", insecure_registries=registry.host)
    assert run.returncode == 0, run.stdout
    manifest = registry.client().get_manifest("tok/helper", "1")
    # The image ID needs the helper's credentials: the action ran it in the chroot too.
    assert run.outputs["imageid"] == manifest.manifest["config"]["digest"]
    assert "::warning" not in run.stdout
    assert all(r.user == USER for r in server.requests[first:] if r.method == "GET")
    assert f"::add-mask::{PASSWORD}" in run.stdout
    assert (
        files_holding(tmp_path, [PASSWORD], (helper_executor / "docker-credential-kbtest",)) == []
    )
    assert_clean(run)
