"""Docker config merging, credential-helper environment, and registry error explanations."""

from __future__ import annotations

import base64
from pathlib import Path, PurePosixPath

import pytest

from kaniko_action.errors import ActionError
from kaniko_action.executor.diagnosis import explain, registry_in
from kaniko_action.registry.credentials import (
    config_key,
    helper_environment,
    load_runner_config,
    merge_config,
    runner_docker_config_path,
)
from kaniko_action.sandbox.kaniko_files import available_helpers
from kaniko_action.spec.login import Login
from kaniko_action.spec.references import DOCKER_HUB_KEY

HELPERS = ["acr-env", "ecr-login", "gcr"]


def test_login_wins_over_runner_config_and_helpers() -> None:
    runner = {
        "auths": {"reg:5000": {"auth": "b2xkOm9sZA=="}, "other.io": {"auth": "eDp5"}},
        "credHelpers": {
            "reg:5000": "ecr-login",
            "123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login",
        },
    }
    merged = merge_config(runner, Login("reg:5000", "me", "pw"), HELPERS)
    assert merged.content == {
        "auths": {
            "reg:5000": {"auth": base64.b64encode(b"me:pw").decode()},
            "other.io": {"auth": "eDp5"},
        },
        "credHelpers": {"123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"},
    }
    assert merged.warnings == []
    assert set(merged.secrets) == {base64.b64encode(b"me:pw").decode(), "eDp5"}


def test_unavailable_helpers_are_dropped_with_warnings_naming_registries() -> None:
    runner = {"credsStore": "desktop", "credHelpers": {"ghcr.io": "gh", "gcr.io": "gcr"}}
    merged = merge_config(runner, None, HELPERS)
    assert merged.content == {"auths": {}, "credHelpers": {"gcr.io": "gcr"}}
    assert merged.warnings == [
        "registry ghcr.io: credential helper docker-credential-gh is not available to kaniko; "
        "its credentials are not used (log in with the 'username'/'password' inputs instead)",
        "credential store docker-credential-desktop is not available to kaniko; registries "
        "whose credentials it holds get none (log in with the 'username'/'password' inputs "
        "instead)",
    ]


def test_auth_entries_without_credentials_are_dropped() -> None:
    merged = merge_config({"auths": {"a.io": {}, "b.io": {"identitytoken": "t"}}}, None, [])
    assert merged.content == {"auths": {"b.io": {"identitytoken": "t"}}}


@pytest.mark.parametrize(
    ("registry", "key"),
    [("docker.io", DOCKER_HUB_KEY), ("index.docker.io", DOCKER_HUB_KEY), ("ghcr.io", "ghcr.io")],
)
def test_config_key(registry: str, key: str) -> None:
    assert config_key(registry) == key


def test_runner_config_locations(tmp_path: Path) -> None:
    (tmp_path / "home" / ".docker").mkdir(parents=True)
    (tmp_path / "home" / ".docker" / "config.json").write_text('{"auths": {}}')
    (tmp_path / "dc").mkdir()
    assert runner_docker_config_path({"HOME": str(tmp_path / "home")}) == (
        tmp_path / "home" / ".docker" / "config.json"
    )
    assert runner_docker_config_path({"DOCKER_CONFIG": str(tmp_path / "dc")}) is None
    (tmp_path / "dc" / "config.json").write_text('{"auths": {}}')
    assert load_runner_config({"DOCKER_CONFIG": str(tmp_path / "dc")}).content == {"auths": {}}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{\n  "auths": {"r": {"auth": "c2VjcmV0OnB3"}}\n', "is not valid JSON (Expecting ',' "
         "delimiter at line 3, column 1)"),
        ('["c2VjcmV0OnB3"]', "is not a JSON object"),
        (b"\xff\xfec2VjcmV0OnB3", "is not UTF-8 text"),
    ],
)  # fmt: skip
def test_an_unreadable_runner_config_is_named_in_a_warning_without_its_content(
    tmp_path: Path, text: str | bytes, why: str
) -> None:
    path = tmp_path / "config.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    loaded = load_runner_config({"DOCKER_CONFIG": str(tmp_path)})
    assert loaded.content == {}
    assert loaded.warning == f"the docker config {path} {why}: its credentials are not used"
    assert "c2VjcmV0OnB3" not in loaded.warning


def test_available_helpers(tmp_path: Path) -> None:
    for name in ("executor", "docker-credential-gcr", "docker-credential-ecr-login"):
        (tmp_path / name).write_text("")
    assert available_helpers(tmp_path) == ["ecr-login", "gcr"]


def test_helper_environment_keeps_set_variables_and_existing_files(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t")
    env = {
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
        "AWS_ROLE_ARN": "arn:aws:iam::1:role/r",
        "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "missing.json"),
        "GITHUB_TOKEN": "not-passed",
        "AZURE_CLIENT_ID": "",
    }
    helper = helper_environment(env)
    assert helper.variables == {
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
        "AWS_ROLE_ARN": "arn:aws:iam::1:role/r",
        "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "missing.json"),
    }
    assert helper.files == (token,)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "POST https://reg.example.com/v2/app/blobs/uploads/: UNAUTHORIZED: authentication required",
            "registry reg.example.com rejected the credentials (401)",
        ),
        (
            'checking push permission for "ghcr.io/o/app:1": POST https://ghcr.io/v2/o/app/blobs/'
            "uploads/: DENIED: installation not allowed to Create organization package",
            "registry ghcr.io denied access (403)",
        ),
        (
            'Get "https://harbor.local:8443/v2/": tls: failed to verify certificate: x509: '
            "certificate signed by unknown authority",
            "registry harbor.local:8443 presented a TLS certificate from an unknown CA",
        ),
        (
            'Get "https://10.0.0.5:5000/v2/": dial tcp 10.0.0.5:5000: connect: connection refused',
            "registry 10.0.0.5:5000 is unreachable from the runner",
        ),
        (
            "dial tcp: lookup nope.invalid on 127.0.0.53:53: no such host",
            "registry nope.invalid is unreachable",
        ),
        (
            'Get "https://reg:5000/v2/": http: server gave HTTP response to HTTPS client',
            "registry reg:5000 speaks plain HTTP: list it in 'insecure-registries'",
        ),
        (
            'Get "https://reg:5000/v2/": remote error: tls: certificate required',
            "registry reg:5000 requires a TLS client certificate",
        ),
        (
            'Get "https://reg:5000/v2/": http2: client conn could not be established',
            "registry reg:5000 dropped the connection: if it requires a TLS client certificate",
        ),
        (
            'Get "https://reg:5000/v2/": write tcp 1.2.3.4:5->6.7.8.9:5000: write: broken pipe',
            "registry reg:5000 dropped the connection",
        ),
        ("building stage: failed to execute command: exit status 1", None),
    ],
)
def test_explain(text: str, expected: str | None) -> None:
    explanation = explain(text)
    if expected is None:
        assert explanation is None
    else:
        assert explanation is not None and explanation.startswith(expected)


def test_registry_fallback() -> None:
    assert registry_in("UNAUTHORIZED") is None
    assert explain("UNAUTHORIZED", "reg:1") is not None
    assert "registry reg:1 " in (explain("UNAUTHORIZED", "reg:1") or "")


def test_helper_file_paths_are_normalised_and_may_not_climb_or_collide(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t\n")
    reserved = (PurePosixPath("/.kaniko-build"), PurePosixPath("/etc/hosts"), PurePosixPath("/dev"))
    env = helper_environment({"AWS_WEB_IDENTITY_TOKEN_FILE": f"/{token}/./"[:-2]}, reserved)
    assert env.files == (token,)
    assert env.variables["AWS_WEB_IDENTITY_TOKEN_FILE"] == str(token)
    climbing = "/" + "../" * 8 + str(token).lstrip("/")
    with pytest.raises(ActionError, match=r"AWS_WEB_IDENTITY_TOKEN_FILE=.*contains '\.\.'"):
        helper_environment({"AWS_WEB_IDENTITY_TOKEN_FILE": climbing}, reserved)
    for taken in ("/.kaniko-build/executor", "/etc/hosts", "/dev/null"):
        with pytest.raises(ActionError, match="the build sandbox uses itself"):
            helper_environment({"GOOGLE_APPLICATION_CREDENTIALS": taken}, reserved)
