"""End to end: registry authentication and trust against a TLS registry with htpasswd auth
(and one that also demands client certificates). After each build, the password must appear
in no log line and in no file left on the host."""

from __future__ import annotations

import base64
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaniko_action.workflow.commands import escape_data

from .support.action import ActionHarness, ActionRun
from .support.hostcheck import files_holding
from .support.images import busybox_layer
from .support.registry import Registry
from .test_e2e_build import assert_clean

pytestmark = pytest.mark.e2e

USER = "builder"
PASSWORD = "pw-Zq8v!t2r%Kx9-d41"


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry.start(tmp_path_factory.mktemp("secure"), tls=True, users={USER: PASSWORD}) as reg:
        reg.client().push_image("base/busybox", "latest", [busybox_layer()], {"Cmd": ["sh"]})
        yield reg


@pytest.fixture(scope="module")
def mtls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry.start(
        tmp_path_factory.mktemp("mtls"), tls=True, users={USER: PASSWORD}, client_ca=True
    ) as reg:
        reg.client().push_image("base/busybox", "latest", [busybox_layer()], {"Cmd": ["sh"]})
        yield reg


def secrets() -> list[bytes]:
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode())
    return [PASSWORD.encode(), auth]


def shown(run: ActionRun) -> str:
    """The log as the runner shows it: add-mask commands are consumed, not displayed."""
    return "\n".join(x for x in run.stdout.splitlines() if not x.startswith("::add-mask::"))


def assert_no_leak(run: ActionRun, harness: ActionHarness, allowed: tuple[Path, ...] = ()) -> None:
    for secret in secrets():
        assert secret.decode() not in shown(run)
        assert secret.decode() not in run.summary
    assert not any(s.decode() in v for v in run.outputs.values() for s in secrets())
    assert files_holding(harness.workspace.parent, secrets(), allowed) == []
    assert f"::add-mask::{escape_data(PASSWORD)}" in run.stdout or allowed


def with_ca(harness: ActionHarness, registry: Registry, name: str = "ca.pem") -> str:
    assert registry.ca_cert_path is not None
    dest = harness.workspace / "certs" / name
    dest.parent.mkdir(exist_ok=True)
    shutil.copy(registry.ca_cert_path, dest)
    return f"{registry.host}=certs/{name}"


def dockerfile(harness: ActionHarness, registry: Registry) -> None:
    harness.write("Dockerfile", f"FROM {registry.host}/base/busybox:latest\nRUN echo ok > /ok\n")


@pytest.mark.parametrize("harness", ["upstream", "fork"], indirect=True)
def test_login_inputs_and_registry_certificate(harness: ActionHarness, secure: Registry) -> None:
    dockerfile(harness, secure)
    run = harness.run(
        tags=f"{secure.host}/auth/inputs:1",
        username=USER,
        password=PASSWORD,
        registry_certificates=with_ca(harness, secure),
    )
    assert run.returncode == 0, run.stdout
    manifest = secure.client().get_manifest("auth/inputs", "1")
    assert run.outputs["digest"] == manifest.digest
    assert secure.client().image_files("auth/inputs", "1")["ok"].text == "ok\n"
    assert_no_leak(run, harness)
    assert_clean(run)


def test_runner_docker_config_is_reused(harness: ActionHarness, secure: Registry) -> None:
    dockerfile(harness, secure)
    config_dir = harness.workspace.parent / "docker-config"
    config_dir.mkdir()
    config = config_dir / "config.json"
    config.write_text(json.dumps(secure.docker_config(USER)))
    harness.extra_env["DOCKER_CONFIG"] = str(config_dir)
    run = harness.run(
        tags=f"{secure.host}/auth/config:1", registry_certificates=with_ca(harness, secure)
    )
    assert run.returncode == 0, run.stdout
    assert run.outputs["digest"] == secure.client().get_manifest("auth/config", "1").digest
    assert_no_leak(run, harness, allowed=(config,))
    assert_clean(run)


def test_wrong_password_is_explained(harness: ActionHarness, secure: Registry) -> None:
    dockerfile(harness, secure)
    wrong = "not-the-" + PASSWORD
    run = harness.run(
        tags=f"{secure.host}/auth/wrong:1",
        username=USER,
        password=wrong,
        registry_certificates=with_ca(harness, secure),
    )
    assert run.returncode == 1
    (error,) = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert f"registry {secure.host} rejected the credentials (401)" in error
    assert "check 'username' and 'password'" in error
    assert wrong not in shown(run)
    assert f"::add-mask::{escape_data(wrong)}" in run.stdout
    assert secure.client().tags("auth/wrong") == []
    assert files_holding(harness.workspace.parent, secrets()) == []
    assert_clean(run)


def test_unknown_ca_then_registry_certificates(harness: ActionHarness, secure: Registry) -> None:
    dockerfile(harness, secure)
    inputs = {"tags": f"{secure.host}/auth/ca:1", "username": USER, "password": PASSWORD}
    refused = harness.run(**inputs)
    assert refused.returncode == 1
    (error,) = [line for line in refused.stdout.splitlines() if line.startswith("::error")]
    assert f"registry {secure.host} presented a TLS certificate from an unknown CA" in error
    assert f"'registry-certificates: {secure.host}=path/to/ca.pem'" in error
    accepted = harness.run(**inputs, registry_certificates=with_ca(harness, secure))
    assert accepted.returncode == 0, accepted.stdout
    assert accepted.outputs["digest"] == secure.client().get_manifest("auth/ca", "1").digest
    assert_no_leak(refused, harness)
    assert_no_leak(accepted, harness)
    assert_clean(refused)
    assert_clean(accepted)


def test_mutual_tls(harness: ActionHarness, mtls: Registry) -> None:
    assert mtls.client_cert_path is not None and mtls.client_key_path is not None
    dockerfile(harness, mtls)
    for source, name in (
        (mtls.client_cert_path, "client.crt"),
        (mtls.client_key_path, "client.key"),
    ):
        shutil.copy(source, harness.workspace / name)
    inputs = {
        "tags": f"{mtls.host}/auth/mtls:1",
        "username": USER,
        "password": PASSWORD,
        "registry_certificates": with_ca(harness, mtls),
    }
    refused = harness.run(**inputs)
    assert refused.returncode == 1
    # TLS 1.2 and 1.3 peers report the missing client certificate differently.
    assert (
        f"registry {mtls.host} requires a TLS client certificate" in refused.stdout
        or f"registry {mtls.host} dropped the connection: if it requires a TLS client"
        in refused.stdout
    )
    accepted = harness.run(**inputs, registry_client_certs=f"{mtls.host}=client.crt,client.key")
    assert accepted.returncode == 0, accepted.stdout
    assert accepted.outputs["digest"] == mtls.client().get_manifest("auth/mtls", "1").digest
    assert_no_leak(accepted, harness)
    assert_clean(refused)
    assert_clean(accepted)


def test_unreachable_registry_is_explained(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    harness.write("Dockerfile", f"FROM {busybox_image}\n")
    run = harness.run(
        tags=f"{closed}/auth/nowhere:1", insecure_registries=f"{registry.host},{closed}"
    )
    assert run.returncode == 1
    assert f"registry {closed} is unreachable from the runner" in run.stdout
    assert_clean(run)


def test_missing_credential_helper_warns_with_registry(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\n")
    config_dir = harness.workspace.parent / "docker-config"
    config_dir.mkdir()
    (config_dir / "config.json").write_text(
        json.dumps({"credsStore": "desktop", "credHelpers": {"registry.example.com": "pass"}})
    )
    harness.extra_env["DOCKER_CONFIG"] = str(config_dir)
    run = harness.run(tags=f"{registry.host}/auth/helpers:1", insecure_registries=registry.host)
    assert run.returncode == 0, run.stdout
    warnings = [line for line in run.stdout.splitlines() if line.startswith("::warning")]
    assert any(
        "registry registry.example.com: credential helper docker-credential-pass is not available"
        in w
        for w in warnings
    )
    assert any("credential store docker-credential-desktop is not available" in w for w in warnings)
    assert_clean(run)


def test_cloud_helper_files_reach_the_chroot_but_not_the_image(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    token_dir = harness.workspace.parent / "serviceaccount"
    token_dir.mkdir()
    token = token_dir / "token"
    token.write_text("web-identity-token-value")
    harness.extra_env.update(
        {
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
            "AWS_REGION": "eu-west-1",
            "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
        }
    )
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\nRUN test -s {token} && echo token-visible > /probe\n",
    )
    run = harness.run(tags=f"{registry.host}/auth/cloud:1", insecure_registries=registry.host)
    assert run.returncode == 0, run.stdout
    files = registry.client().image_files("auth/cloud", "1")
    assert files["probe"].text == "token-visible\n"
    assert token.relative_to("/").as_posix() not in files
    assert "::add-mask::aws-secret-value" in run.stdout
    assert "web-identity-token-value" not in run.stdout
    assert_clean(run)
