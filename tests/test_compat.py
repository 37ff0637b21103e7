"""docker/build-push-action inputs: mapped, refused with advice, or warned about."""

from __future__ import annotations

import pytest

from kaniko_action.errors import InputError
from kaniko_action.spec.buildx import translate
from kaniko_action.spec.inputs import DEFAULTS


def raw(**inputs: str) -> dict[str, str]:
    values = dict(DEFAULTS)
    values.update({k.replace("_", "-"): v for k, v in inputs.items()})
    return values


def test_several_platforms_are_listed_for_the_multi_platform_flow() -> None:
    out = translate(raw(platforms="linux/amd64,\nlinux/arm64"))
    assert (out.platform, out.platforms) == (None, ["linux/amd64", "linux/arm64"])


def test_defaults_translate_to_nothing() -> None:
    out = translate(raw())
    assert (out.platform, out.cache_repo, out.use_cache, out.warnings) == (None, None, None, [])


@pytest.mark.parametrize(
    ("inputs", "platform", "cache_repo", "use_cache"),
    [
        ({"platforms": "linux/arm64"}, "linux/arm64", None, None),
        ({"platforms": " linux/amd64 ,\n"}, "linux/amd64", None, None),
        ({"no_cache": "true"}, None, None, False),
        ({"cache_from": "type=registry,ref=reg/app:buildcache"}, None, "reg/app", True),
        (
            {
                "cache_from": "type=registry,ref=reg/app:c",
                "cache_to": "type=registry,ref=reg/app:c,mode=max",
            },
            None,
            "reg/app",
            True,
        ),
        ({"cache_from": "reg:5000/team/app:cache"}, None, "reg:5000/team/app", True),
        ({"cache_to": "type=registry,ref=reg/app", "no_cache": "true"}, None, "reg/app", False),
        ({"pull": "true"}, None, None, None),
        ({"network": "host"}, None, None, None),
        ({"call": "build"}, None, None, None),
        ({"provenance": "false", "sbom": "false"}, None, None, None),
    ],
)
def test_mapped(
    inputs: dict[str, str], platform: str | None, cache_repo: str | None, use_cache: bool | None
) -> None:
    out = translate(raw(**inputs))
    assert (out.platform, out.cache_repo, out.use_cache) == (platform, cache_repo, use_cache)
    assert out.warnings == []


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"load": "true"}, r"input 'load': there is no Docker daemon .* 'tar-path'"),
        ({"load": "maybe"}, r"input 'load': 'maybe' is not a boolean"),
        ({"ssh": "default"}, r"input 'ssh': not supported .* 'secret-files'"),
        ({"build_contexts": "alpine=docker-image://alpine"}, r"input 'build-contexts'"),
        ({"no_cache_filters": "stage"}, r"input 'no-cache-filters'"),
        (
            {"cache_from": "type=gha"},
            r"input 'cache-from': 'type=gha': kaniko caches layers in a registry",
        ),
        ({"cache_to": "type=local,dest=/tmp/c"}, r"input 'cache-to': 'type=local,dest=/tmp/c'"),
        (
            {"cache_from": "type=registry,ref=a/one", "cache_to": "type=registry,ref=a/two"},
            r"input 'cache-to': kaniko uses one cache repository, got a/one, a/two",
        ),
        ({"network": "none"}, r"input 'network': 'none'"),
        ({"call": "check"}, r"input 'call': 'check'"),
        ({"pull": "always"}, r"input 'pull': 'always' is not a boolean"),
    ],
)
def test_refused(inputs: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        translate(raw(**inputs))


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("builder", "builder-123", "kaniko has no builder instances"),
        ("allow", "network.host", "no entitlements"),
        ("annotations", "index:org.opencontainers.image.title=x", "use 'labels'"),
        ("attests", "type=sbom", "no attestations"),
        ("provenance", "mode=max", "no attestations"),
        ("sbom", "true", "no attestations"),
        ("cgroup_parent", "x", "not containers"),
        ("ulimit", "nofile=1024:1024", "not containers"),
        ("github_token", "ghs_x", "git build contexts"),
    ],
)
def test_warned(name: str, value: str, reason: str) -> None:
    out = translate(raw(**{name: value}))
    assert len(out.warnings) == 1
    assert out.warnings[0].startswith(f"input '{name.replace('_', '-')}' has no effect: ")
    assert reason in out.warnings[0]


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("", None),
        ("0", None),
        ("2g", 2 << 30),
        ("64m", 64 << 20),
        ("64MiB", 64 << 20),
        ("64mb", 64 << 20),
        ("1.5g", 3 << 29),
        ("512k", 512 << 10),
        ("1048576", 1 << 20),
        ("100b", 100),
    ],
)
def test_shm_size_is_read_as_docker_reads_it(value: str, size: int | None) -> None:
    out = translate(raw(shm_size=value))
    assert out.shm_size == size
    assert out.warnings == []


@pytest.mark.parametrize("value", ["big", "-1", "64x", "1,5g", "g"])
def test_a_shm_size_that_is_not_a_size_is_refused(value: str) -> None:
    with pytest.raises(InputError, match=r"input 'shm-size': .* is not a size such as 64m"):
        translate(raw(shm_size=value))
