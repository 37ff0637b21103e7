"""docker/build-push-action inputs that kaniko has no exact equivalent for.

Each is mapped to what kaniko can do, refused with an error that says what to do instead, or
accepted with a warning that says it has no effect. None is silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import InputError
from .inputs import parse_bool, parse_list


@dataclass
class Translation:
    """What build-push-action-style inputs amount to."""

    platform: str | None = None
    platforms: list[str] = field(default_factory=list)
    cache_repo: str | None = None
    use_cache: bool | None = None
    shm_size: int | None = None
    warnings: list[str] = field(default_factory=list)


_REFUSED = {
    "ssh": "kaniko has no SSH agent forwarding; fetch private sources before the build, or "
    "pass a key with 'secret-files' and RUN --mount=type=secret",
    "build-contexts": "put every file the build needs under 'context'",
    "no-cache-filters": "set 'cache: false' to rebuild everything",
}
_WARNED = {
    "builder": "kaniko has no builder instances",
    "allow": "kaniko has no entitlements; RUN steps already run as root in the chroot",
    "annotations": "kaniko writes no manifest annotations; use 'labels'",
    "attests": "kaniko produces no attestations",
    "cgroup-parent": "RUN steps are not containers here",
    "ulimit": "RUN steps are not containers here",
    "github-token": "only git build contexts would use it",
}


# Docker's sizes (RAMInBytes): a number, a unit of 1024s, an optional `i` and `b`.
_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgtp]?)i?b?$", re.IGNORECASE)


def parse_shm_size(value: str) -> int | None:
    """`shm-size` in bytes, as `docker build --shm-size` reads it; None (the default) when
    empty or 0."""
    if not value:
        return None
    match = _SIZE.match(value)
    if match is None:
        raise InputError("shm-size", f"'{value}' is not a size such as 64m or 2g")
    number, unit = match.groups()
    factor = 1024 ** ("kmgtp".index(unit.lower()) + 1) if unit else 1
    return int(float(number) * factor) or None


def _cache_ref(name: str, entry: str) -> str:
    """The repository of a `type=registry,ref=REPO` (or bare `REPO`) cache entry."""
    if "=" not in entry:
        return entry.split("@")[0]
    attrs = dict(part.split("=", 1) for part in entry.split(",") if "=" in part)
    kind = attrs.get("type", "registry")
    if kind != "registry" or "ref" not in attrs:
        raise InputError(
            name,
            f"'{entry}': kaniko caches layers in a registry repository only; use "
            "'type=registry,ref=REPO' or set 'cache: true' and 'cache-repo'",
        )
    return attrs["ref"]


def _strip_tag(ref: str) -> str:
    last = ref.rsplit("/", 1)[-1]
    return ref.rsplit(":", 1)[0] if ":" in last else ref


def translate(raw: Mapping[str, str]) -> Translation:
    out = Translation()
    for name, advice in _REFUSED.items():
        if raw[name]:
            raise InputError(name, f"not supported with kaniko: {advice}")
    for name, reason in _WARNED.items():
        if raw[name]:
            out.warnings.append(f"input '{name}' has no effect: {reason}")
    for name in ("provenance", "sbom"):
        if raw[name] and raw[name] not in ("false", "False", "FALSE"):
            out.warnings.append(f"input '{name}' has no effect: kaniko produces no attestations")
    if parse_bool("load", raw["load"]):
        raise InputError(
            "load", "there is no Docker daemon to load into: write 'tar-path' and load that"
        )
    if raw["network"] not in ("", "default", "host"):
        raise InputError(
            "network", f"'{raw['network']}': RUN steps always use the runner's network"
        )
    if raw["call"] not in ("", "build"):
        raise InputError("call", f"'{raw['call']}': only 'build' is possible with kaniko")
    parse_bool("pull", raw["pull"])  # kaniko always pulls; the value only has to be valid.

    out.shm_size = parse_shm_size(raw["shm-size"])
    out.platforms = parse_list(raw["platforms"])
    if len(out.platforms) == 1:
        out.platform = out.platforms[0]

    if parse_bool("no-cache", raw["no-cache"]):
        out.use_cache = False
    repos = {
        _strip_tag(_cache_ref(name, entry))
        for name in ("cache-from", "cache-to")
        for entry in parse_list(raw[name], commas=False)
    }
    if len(repos) > 1:
        raise InputError(
            "cache-to",
            f"kaniko uses one cache repository, got {', '.join(sorted(repos))}",
        )
    if repos:
        out.cache_repo = repos.pop()
        if out.use_cache is None:
            out.use_cache = True
    return out
