"""End to end: build secrets (`secrets`, `secret-files`, `secret-envs`) with the maintained
executor's RUN --mount=type=secret, and the refusal of the archived executor.

The build proves it saw each secret by writing its SHA-256 into the image; then no blob of any
repository of the registry (layers, configs, manifests, cache layers), no displayed log line,
summary or output, and no file left on the host holds a secret."""

from __future__ import annotations

import hashlib

import pytest

from kaniko_action.workflow.commands import escape_data

from .support.action import ActionHarness, ActionRun
from .support.hostcheck import files_holding
from .support.registry import Registry, RegistryClient, decompress_layer
from .test_e2e_auth import shown
from .test_e2e_build import assert_clean

pytestmark = pytest.mark.e2e

VALUE = "inline-Secret-9Vq!x2%Lm"
FILE_TEXT = "file-Secret-Q8z3\nsecond-Line-7Pw\n"
ENV_VALUE = "env-Secret-R4d8 with spaces"
SECRETS = [VALUE, "file-Secret-Q8z3", "second-Line-7Pw", ENV_VALUE]

DOCKERFILE = """\
FROM {base}
RUN --mount=type=secret,id=token sha256sum < /run/secrets/token > /token.sha \\
 && ls -ln /.kaniko-build/secret-src | grep -v '^total' | cut -c1-10 > /src.modes \\
 && ls -lnd /.kaniko-build/secret-src | cut -c1-10 >> /src.modes
RUN --mount=type=secret,id=token,env=TOKEN sh -c 'printf %s "$TOKEN" | sha256sum > /env.sha'
RUN --mount=type=secret,id=cert,target=/etc/app/cert.pem sha256sum < /etc/app/cert.pem > /cert.sha \\
 && test ! -e /run/secrets/cert
RUN --mount=type=secret,id=npm,env=NPM_TOKEN sh -c 'printf %s "$NPM_TOKEN" | sha256sum > /npm.sha'
RUN test ! -e /run/secrets/token && test ! -e /etc/app/cert.pem && echo gone > /after
"""


def sha_line(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest() + "  -\n"


def registry_blobs(client: RegistryClient) -> dict[str, bytes]:
    """Every manifest and blob reachable from every tag of every repository, uncompressed."""
    found: dict[str, bytes] = {}
    for repo in client.catalog():
        for tag in client.tags(repo):
            digest, body, _media = client.get_manifest_bytes(repo, tag)
            found[f"{repo}@{digest}"] = body
            manifest = client.get_manifest(repo, tag).manifest
            for blob in [manifest.get("config"), *manifest.get("layers", [])]:
                if blob:
                    data = client.get_blob(repo, blob["digest"])
                    found[f"{repo}@{blob['digest']}"] = decompress_layer(data)
    return found


def assert_secrets_nowhere(run: ActionRun, harness: ActionHarness, registry: Registry) -> None:
    log = shown(run)
    for secret in SECRETS:
        assert secret not in log
        assert escape_data(secret) not in log
        assert secret not in run.summary
        assert not any(secret in value for value in run.outputs.values())
    leaks = {
        name: [s for s in SECRETS if s.encode() in data]
        for name, data in registry_blobs(registry.client()).items()
    }
    assert {k: v for k, v in leaks.items() if v} == {}
    secret_file = harness.workspace / "secrets" / "cert.pem"
    assert files_holding(harness.workspace.parent, SECRETS, (secret_file,)) == []


@pytest.mark.parametrize("harness", ["fork"], indirect=True)
def test_secrets_reach_run_steps_and_nothing_else(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", DOCKERFILE.format(base=busybox_image))
    harness.write("secrets/cert.pem", FILE_TEXT)
    harness.extra_env["NPM_TOKEN"] = ENV_VALUE
    repo = "secrets/app"
    run = harness.run(
        tags=f"{registry.host}/{repo}:1",
        insecure_registries=registry.host,
        secrets=f"token={VALUE}",
        secret_files="cert=secrets/cert.pem",
        secret_envs="npm=NPM_TOKEN",
        cache="true",
        cache_repo=f"{registry.host}/{repo}/cache",
    )
    assert run.returncode == 0, run.stdout
    files = registry.client().image_files(repo, "1")
    assert files["token.sha"].text == sha_line(VALUE)
    assert files["env.sha"].text == sha_line(VALUE)
    assert files["cert.sha"].text == sha_line(FILE_TEXT)
    assert files["npm.sha"].text == sha_line(ENV_VALUE)
    assert files["after"].text == "gone\n"
    # The staged sources: a 0700 directory of 0600 files, inside kaniko's own directory.
    assert files["src.modes"].text == "-rw-------\n" * 3 + "drwx------\n"
    assert "run/secrets" not in files and "etc/app/cert.pem" not in files
    assert ".kaniko-build" not in {p.split("/")[0] for p in files}
    # Every secret was registered as a mask before anything else printed.
    lines = run.stdout.splitlines()
    masks = [i for i, line in enumerate(lines) if line.startswith("::add-mask::")]
    for secret in (VALUE, ENV_VALUE, "file-Secret-Q8z3", "second-Line-7Pw"):
        assert f"::add-mask::{escape_data(secret)}" in lines
    assert max(masks) < min(i for i, line in enumerate(lines) if not line.startswith("::"))
    assert len(registry.client().tags(f"{repo}/cache")) >= 1
    assert_secrets_nowhere(run, harness, registry)
    assert_clean(run)


@pytest.mark.parametrize("harness", ["upstream"], indirect=True)
def test_archived_executor_is_refused_with_the_fork_named(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", DOCKERFILE.format(base=busybox_image))
    harness.write("secrets/cert.pem", FILE_TEXT)
    run = harness.run(
        tags=f"{registry.host}/secrets/refused:1",
        insecure_registries=registry.host,
        secret_files="cert=secrets/cert.pem",
    )
    assert run.returncode == 1
    (error,) = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert "input 'secret-files': build secrets need the maintained kaniko executor" in error
    assert "osscontainertools/kaniko" in error and "v1.24.0" in error
    assert "EXECUTOR_IMAGE" in error and "'executor-dir' input" in error
    assert "Running: [" not in run.stdout
    assert "secrets/refused" not in registry.client().catalog()
    assert (
        files_holding(
            harness.workspace.parent, SECRETS, (harness.workspace / "secrets" / "cert.pem",)
        )
        == []
    )
    assert_clean(run)


@pytest.mark.parametrize("harness", ["fork"], indirect=True)
def test_bad_secret_lines_never_echo_the_value(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write("Dockerfile", f"FROM {busybox_image}\n")
    run = harness.run(
        tags=f"{registry.host}/secrets/bad:1",
        insecure_registries=registry.host,
        secrets=f"good=1\n{VALUE.replace('=', '')}",
    )
    assert run.returncode == 1
    assert "input 'secrets': line 2 is not of the form id=... (no '=')" in run.stdout
    assert VALUE.replace("=", "") not in run.stdout
    assert_clean(run)


@pytest.mark.parametrize("harness", ["fork"], indirect=True)
def test_a_secret_file_linked_to_a_runner_file_is_refused_before_building(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    """The pull request replaced a committed secret file by a link to a root-only runner
    file: the inputs are refused, nothing is created and the file is read by nobody."""
    runner_file = harness.workspace.parent / "runner-only.key"
    runner_file.write_text(FILE_TEXT)
    runner_file.chmod(0o600)
    harness.write("Dockerfile", DOCKERFILE.format(base=busybox_image))
    (harness.workspace / "secrets").mkdir()
    (harness.workspace / "secrets" / "cert.pem").symlink_to(runner_file)
    run = harness.run(
        tags=f"{registry.host}/secrets/linked:1",
        insecure_registries=registry.host,
        secret_files="cert=secrets/cert.pem",
    )
    assert run.returncode == 1
    (error,) = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    assert (
        "input 'secret-files': line 1 (id 'cert'): the file resolves through a symlink to a "
        "path not inside the workspace or RUNNER_TEMP" in error
    )
    assert "Running: [" not in run.stdout
    assert list(harness.runner_temp.iterdir()) == []
    assert "secrets/linked" not in registry.client().catalog()
    assert files_holding(harness.workspace.parent, SECRETS, (runner_file,)) == []
    assert_clean(run)
