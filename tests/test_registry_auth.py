"""Registry authentication, the pure part: challenges, scopes, docker config credentials."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kaniko_action.registry.auth import (
    ANONYMOUS,
    Challenge,
    ConfigCredential,
    config_credential,
    decode_auth,
    helper_answer,
    hostname_of,
    merge_scopes,
    parse_challenges,
    pick_challenge,
    scope,
)
from kaniko_action.registry.client import RegistryTrust


def auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", []),
        ('Basic realm="Registry Realm"', [("basic", {"realm": "Registry Realm"})]),
        (
            'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
            'scope="repository:team/app:pull,push"',
            [
                (
                    "bearer",
                    {
                        "realm": "https://auth.example.com/token",
                        "service": "registry.example.com",
                        "scope": "repository:team/app:pull,push",
                    },
                )
            ],
        ),
        (
            # Unquoted values, odd spacing and a capitalised scheme and parameter name.
            "BEARER  Realm=https://a.example/token , service=reg",
            [("bearer", {"realm": "https://a.example/token", "service": "reg"})],
        ),
        (
            'Bearer realm="https://a/token",error="insufficient_scope",'
            'scope="repository:x:pull repository:y:pull"',
            [
                (
                    "bearer",
                    {
                        "realm": "https://a/token",
                        "error": "insufficient_scope",
                        "scope": "repository:x:pull repository:y:pull",
                    },
                )
            ],
        ),
        (
            # Two challenges in one header; an escaped quote inside a quoted value.
            'Basic realm="a \\"b\\" c", Bearer realm="https://t/token",service="s"',
            [
                ("basic", {"realm": 'a "b" c'}),
                ("bearer", {"realm": "https://t/token", "service": "s"}),
            ],
        ),
        ("Negotiate", [("negotiate", {})]),
        ('Bearer realm=""', [("bearer", {"realm": ""})]),
    ],
)
def test_parse_challenges(header: str, expected: list[tuple[str, dict[str, str]]]) -> None:
    assert [(c.scheme, dict(c.params)) for c in parse_challenges(header)] == expected


@pytest.mark.parametrize(
    ("schemes", "picked"),
    [
        (["basic", "bearer"], "bearer"),
        (["basic"], "basic"),
        (["negotiate"], None),
        ([], None),
    ],
)
def test_pick_challenge_prefers_bearer(schemes: list[str], picked: str | None) -> None:
    found = pick_challenge(Challenge(s, {}) for s in schemes)
    assert (found.scheme if found else None) == picked


@pytest.mark.parametrize(
    ("scopes", "merged"),
    [
        ([scope("a/b", ["push", "pull"])], ("repository:a/b:pull,push",)),
        (
            ["repository:a/b:pull", "repository:a/b:push", "repository:c:pull"],
            ("repository:a/b:pull,push", "repository:c:pull"),
        ),
        # A registry host with a port is part of no scope, but a repository may hold ':'
        # only in the name part; the actions are after the last ':'.
        (
            ["repository:x:pull,push", "registry:catalog:*"],
            ("repository:x:pull,push", "registry:catalog:*"),
        ),
        (["repository:x:pull", "repository:x:pull"], ("repository:x:pull",)),
    ],
)
def test_merge_scopes(scopes: list[str], merged: tuple[str, ...]) -> None:
    assert merge_scopes(scopes) == merged


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("https://index.docker.io/v1/", "index.docker.io"),
        ("http://reg:5000", "reg:5000"),
        ("reg.example.com/some/path", "reg.example.com"),
        ("ghcr.io", "ghcr.io"),
    ],
)
def test_hostname_of(key: str, host: str) -> None:
    assert hostname_of(key) == host


@pytest.mark.parametrize(
    ("config", "registry", "expected"),
    [
        ({}, "reg:5000", ANONYMOUS),
        ({"auths": {"reg:5000": {"auth": auth("me", "pw")}}}, "reg:5000", ConfigCredential("basic", "me", "pw")),
        # Keys written with a scheme or a path match the host, as in the docker CLI.
        ({"auths": {"https://reg:5000/v2/": {"auth": auth("me", "pw")}}}, "reg:5000", ConfigCredential("basic", "me", "pw")),
        ({"auths": {"other:5000": {"auth": auth("me", "pw")}}}, "reg:5000", ANONYMOUS),
        # Passwords may contain ':'.
        ({"auths": {"r": {"auth": auth("me", "p:w:d")}}}, "r", ConfigCredential("basic", "me", "p:w:d")),
        ({"auths": {"r": {"username": "u", "password": "p"}}}, "r", ConfigCredential("basic", "u", "p")),
        ({"auths": {"r": {"identitytoken": "refresh"}}}, "r", ConfigCredential("identity-token", "", "refresh")),
        ({"auths": {"r": {"auth": auth("u", ""), "registrytoken": "bearer"}}}, "r", ConfigCredential("registry-token", "u", "bearer")),
        ({"auths": {"r": {"auth": "not base64!"}}}, "r", ANONYMOUS),
        # Docker Hub under any of its names.
        ({"auths": {"https://index.docker.io/v1/": {"auth": auth("hub", "pw")}}}, "index.docker.io", ConfigCredential("basic", "hub", "pw")),
        ({"auths": {"docker.io": {"auth": auth("hub", "pw")}}}, "index.docker.io", ConfigCredential("basic", "hub", "pw")),
        # credHelpers win over auths, credsStore over auths too (as the docker CLI does).
        (
            {"auths": {"r": {"auth": auth("u", "p")}}, "credHelpers": {"r": "ecr-login"}},
            "r",
            ConfigCredential("helper", helper="ecr-login", server="r"),
        ),
        (
            {"auths": {"r": {"auth": auth("u", "p")}}, "credsStore": "gcr"},
            "r",
            ConfigCredential("helper", helper="gcr", server="r"),
        ),
        (
            {"credHelpers": {"other": "gcr"}, "auths": {"r": {"auth": auth("u", "p")}}},
            "r",
            ConfigCredential("basic", "u", "p"),
        ),
        ({"credsStore": "gcr"}, "index.docker.io", ConfigCredential("helper", helper="gcr", server="https://index.docker.io/v1/")),
    ],
)  # fmt: skip
def test_config_credential(
    config: dict[str, Any], registry: str, expected: ConfigCredential
) -> None:
    assert config_credential(config, registry) == expected


def test_credentials_never_show_in_repr() -> None:
    assert "s3cret" not in repr(ConfigCredential("basic", "me", "s3cret"))


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ('{"ServerURL":"r","Username":"AWS","Secret":"tok"}', ConfigCredential("basic", "AWS", "tok")),
        ('{"Username":"<token>","Secret":"refresh"}', ConfigCredential("identity-token", "", "refresh")),
        ('{"Username":"u","Secret":""}', ANONYMOUS),
        ("credentials not found in native keychain", ANONYMOUS),
        ("[]", ANONYMOUS),
    ],
)  # fmt: skip
def test_helper_answer(output: str, expected: ConfigCredential) -> None:
    assert helper_answer(output) == expected


@pytest.mark.parametrize(
    ("value", "pair"),
    [(auth("a", "b"), ("a", "b")), (base64.b64encode(b"nocolon").decode(), None), ("%%%", None)],
)
def test_decode_auth(value: str, pair: tuple[str, str] | None) -> None:
    assert decode_auth(value) == pair


@pytest.mark.parametrize(
    ("registry", "insecure", "schemes"),
    [
        ("registry.example.com", False, ("https",)),
        ("registry.example.com:5000", True, ("https", "http")),
        ("localhost:5000", False, ("https", "http")),
        ("localhost", False, ("https", "http")),
        ("localhost.example.com", False, ("https",)),
        ("127.0.0.1:5000", False, ("https", "http")),
        ("[::1]:5000", False, ("https", "http")),
    ],
)
def test_schemes_fall_back_to_http_for_insecure_and_loopback_registries(
    registry: str, insecure: bool, schemes: tuple[str, ...]
) -> None:
    trust = RegistryTrust(insecure=frozenset({registry} if insecure else ()))
    assert trust.schemes(registry) == schemes
