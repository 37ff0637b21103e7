"""docker/build-push-action inputs: mapped, refused with advice, or warned about."""

from __future__ import annotations

import pytest

from kaniko_action.errors import InputError
from kaniko_action.spec.buildx import translate
from kaniko_action.spec.cache import CacheEntry, cache_plan, parse_cache_entries
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


# cache-from / cache-to entries kaniko cannot honour: the build goes on, with a warning that
# names the entry (secret-capable values hidden) and says why.
HIDDEN_VALUES = ("ghs_token123", "AKIAEXAMPLE", "s3cr3tkey", "sv=2024&sig=abc", "https://r.invalid")


@pytest.mark.parametrize(
    ("inputs", "warning"),
    [
        (
            {"cache_to": "type=inline"},
            "input 'cache-to': entry 1 (type=inline) is not honoured: "
            "kaniko cannot embed cache metadata",
        ),
        (
            {"cache_from": "type=gha,scope=main,token=ghs_token123,url=https://r.invalid"},
            "input 'cache-from': entry 1 (type=gha,scope=main,token=(hidden),url=(hidden)) is not "
            "honoured: the GitHub Actions cache is reached from a workflow step only",
        ),
        (
            {"cache_to": "type=gha,mode=max"},
            "(type=gha,mode=max) is not honoured: the GitHub Actions cache is reached from a workflow step only",
        ),
        (
            {"cache_from": "type=local"},
            "(type=local) is not honoured: it has no src= (the cache directory)",
        ),
        (
            {"cache_to": "type=local,src=/tmp/c"},
            "input 'cache-to': entry 1 (type=local,src=/tmp/c) is not honoured: it has no dest=",
        ),
        (
            {
                "cache_to": "type=s3,region=eu-west-1,bucket=b,access_key_id=AKIAEXAMPLE,"
                "secret_access_key=s3cr3tkey"
            },
            "(type=s3,region=eu-west-1,bucket=b,access_key_id=(hidden),secret_access_key=(hidden)) "
            "is not honoured: kaniko cannot read or write a cache in S3",
        ),
        (
            {"cache_from": 'type=azblob,name=c,"account_url=https://a.invalid/?sv=2024&sig=abc"'},
            "(type=azblob,name=c,account_url=(hidden)) is not honoured: kaniko cannot read or "
            "write a cache in Azure Blob Storage",
        ),
        (
            {"cache_from": "type=mystery,x=1"},
            "(type=mystery,x=(hidden)) is not honoured: kaniko knows no cache of type 'mystery'",
        ),
        (
            {"cache_from": "ref=reg/app"},
            "(type=(none),ref=reg/app) is not honoured: it has no type=",
        ),
        ({"cache_from": "type=registry,mode=max"}, "is not honoured: it has no ref="),
        ({"cache_from": "type=registry,ref=Bad Repo"}, "is not honoured: its ref is not an image"),
        (
            {"cache_from": "type=registry,oops"},
            "input 'cache-from': entry 1 is not key=value pairs and is not honoured",
        ),
    ],
)
def test_cache_entries_kaniko_cannot_honour_only_warn(inputs: dict[str, str], warning: str) -> None:
    out = translate(raw(**inputs))
    assert (out.cache_repo, out.use_cache) == (None, None)
    assert len(out.warnings) == 1, out.warnings
    assert warning in out.warnings[0]
    if not any(w in out.warnings[0] for w in ("registry", "key=value", "type=local")):
        assert "type=registry,ref=REPO" in out.warnings[0]
    assert not any(secret in out.warnings[0] for secret in HIDDEN_VALUES)


def test_a_registry_entry_is_used_next_to_entries_that_are_not_honoured() -> None:
    out = translate(
        raw(
            cache_from="type=gha\ntype=registry,ref=reg/app:cache",
            cache_to="type=gha,mode=max\ntype=registry,ref=reg/app:cache,mode=max",
        )
    )
    assert (out.cache_repo, out.use_cache, out.cache_write) == ("reg/app", True, True)
    assert [w.split(" (")[0] for w in out.warnings] == [
        "input 'cache-from': entry 1",
        "input 'cache-to': entry 1",
    ]


@pytest.mark.parametrize(
    ("cache_from", "cache_to", "repo", "write", "ignore_error", "warned"),
    [
        ("type=registry,ref=reg/app:c", "", "reg/app", False, False, []),
        ("", "type=registry,ref=reg/app:c,mode=max", "reg/app", True, False, []),
        ("", "type=registry,ref=reg/app:c,ignore-error=true", "reg/app", True, True, []),
        ("", "type=registry,ref=reg/app:c,ignore-error=false", "reg/app", True, False, []),
        ("reg/app:c", "type=inline", "reg/app", False, False, ["cache-to"]),
        # One repository: cache-to's, where kaniko writes (and reads); others are warned about.
        (
            "type=registry,ref=a/one",
            "type=registry,ref=a/two",
            "a/two",
            True,
            False,
            [
                "input 'cache-from': entry 1 (type=registry,ref=a/one) is not read: kaniko uses "
                "one layer cache, the repository a/two"
            ],
        ),
        (
            "type=registry,ref=a/one:x\ntype=registry,ref=a/one:y\ntype=registry,ref=a/b",
            "",
            "a/one",
            False,
            False,
            ["input 'cache-from': entry 3 (type=registry,ref=a/b) is not read"],
        ),
    ],
)
def test_cache_plan(
    cache_from: str,
    cache_to: str,
    repo: str,
    write: bool,
    ignore_error: bool,
    warned: list[str],
) -> None:
    plan = cache_plan(cache_from, cache_to)
    assert (plan.repo, plan.write, plan.ignore_error) == (repo, write, ignore_error)
    assert len(plan.warnings) == len(warned)
    for warning, part in zip(plan.warnings, warned):
        assert part in warning


@pytest.mark.parametrize(
    ("cache_from", "cache_to", "src", "dest", "warned"),
    [
        ("type=local,src=/tmp/c", "", "/tmp/c", None, []),
        ("", "type=local,dest=/tmp/c-new,mode=max", None, "/tmp/c-new", []),
        # Docker's documented pattern: read one directory, write a new one.
        ("type=local,src=/tmp/c", "type=local,dest=/tmp/c-new,mode=max", "/tmp/c", "/tmp/c-new", []),
        # One cache: cache-to's kind wins, the other kind's entries are warned about.
        ("type=registry,ref=reg/app:c", "type=local,dest=/tmp/c", None, "/tmp/c", ["cache-from"]),
        ("type=local,src=/tmp/c", "type=registry,ref=reg/app:c", None, None, ["cache-from"]),
        ("type=local,src=/a\ntype=local,src=/b", "", "/a", None, ["entry 2"]),
        ("type=gha", "type=local,dest=/tmp/c", None, "/tmp/c", ["from a workflow step only"]),
    ],
)  # fmt: skip
def test_local_cache_plan(
    cache_from: str, cache_to: str, src: str | None, dest: str | None, warned: list[str]
) -> None:
    plan = cache_plan(cache_from, cache_to)
    assert (plan.local_src, plan.local_dest) == (src, dest)
    assert plan.repo is None or not plan.local
    assert plan.write == bool(cache_to) or "type=gha" in cache_from
    assert len(plan.warnings) == len(warned), plan.warnings
    for warning, part in zip(plan.warnings, warned):
        assert part in warning


def test_cache_entries_are_frozen_type_and_attributes() -> None:
    entries, warnings = parse_cache_entries(
        "cache-to", "type=local,dest=/tmp/c,MODE=max\n\nreg/app:c"
    )
    assert warnings == ()
    assert [(e.type, dict(e.attrs), e.line) for e in entries] == [
        ("local", {"dest": "/tmp/c", "mode": "max"}, 1),
        ("registry", {"ref": "reg/app:c"}, 3),
    ]
    first = entries[0]
    assert isinstance(first, CacheEntry)
    with pytest.raises(TypeError):
        first.attrs["dest"] = "/elsewhere"  # type: ignore[index]
    with pytest.raises(AttributeError):
        first.type = "gha"  # type: ignore[misc]


def test_no_cache_filters_build_everything_uncached_with_a_notice() -> None:
    out = translate(raw(no_cache_filters="deps,\ntest", cache_from="reg/app:c"))
    assert out.uncached
    assert out.warnings == []
    assert out.notices == [
        "input 'no-cache-filters' (deps, test): kaniko cannot leave single stages out of its "
        "layer cache, so the whole image is built without it"
    ]
