"""Image reference parsing."""

from __future__ import annotations

import pytest

from kaniko_action.errors import InputError
from kaniko_action.spec.references import check_registry_host, parse_reference


@pytest.mark.parametrize(
    ("value", "registry", "repository", "tag"),
    [
        ("alpine", "index.docker.io", "library/alpine", None),
        ("docker.io/org/app:1.0", "index.docker.io", "org/app", "1.0"),
        ("org/app:v1", "index.docker.io", "org/app", "v1"),
        ("localhost:5000/a/b:t", "localhost:5000", "a/b", "t"),
        ("localhost/app", "localhost", "app", None),
        ("127.0.0.1:41234/x/y:latest", "127.0.0.1:41234", "x/y", "latest"),
        ("ghcr.io/owner/repo:sha-abc1234", "ghcr.io", "owner/repo", "sha-abc1234"),
        ("registry.example.com/team/app:pr-12", "registry.example.com", "team/app", "pr-12"),
    ],
)
def test_parse_reference(value: str, registry: str, repository: str, tag: str | None) -> None:
    ref = parse_reference("tags", value)
    assert (ref.registry, ref.repository, ref.tag) == (registry, repository, tag)


@pytest.mark.parametrize(
    "value", ["UPPER/app", "a b", "localhost:5000/", "ghcr.io/x:", "ghcr.io//x", ":tag", "x:a b"]
)
def test_parse_reference_rejects(value: str) -> None:
    with pytest.raises(InputError, match=r"input 'tags': .* is not a valid image reference"):
        parse_reference("tags", value)


@pytest.mark.parametrize("value", ["localhost:5000/x:1", "reg.example.com/" + "a" * 256])
def test_repository_length(value: str) -> None:
    with pytest.raises(InputError, match="2 to 255 characters"):
        parse_reference("tags", value)


@pytest.mark.parametrize(
    "value", ["localhost:5000", "10.0.0.1", "reg.example.com:443", "[::1]:5000"]
)
def test_registry_host(value: str) -> None:
    assert check_registry_host("insecure-registries", value) == value


@pytest.mark.parametrize("value", ["http://reg", "reg/path", "reg:port"])
def test_registry_host_rejects(value: str) -> None:
    with pytest.raises(InputError, match="input 'insecure-registries'"):
        check_registry_host("insecure-registries", value)


@pytest.mark.parametrize(
    "value",
    [
        "registry.example.com/app:tâg",
        "registry.example.com/app:v1\n",
        "registry.example.com/app:١٢٣",
        "registry.example.com/app:v1\u00a0",
        "régistry.example.com/app:1",
    ],
)
def test_non_ascii_or_trailing_newline_is_refused(value: str) -> None:
    with pytest.raises(InputError, match="is not a valid image reference"):
        parse_reference("tags", value)
