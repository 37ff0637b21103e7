"""docker/build-push-action inputs that kaniko has no exact equivalent for.

Each is mapped to what kaniko can do, refused with an error that says what to do instead, or
accepted with a warning that says it has no effect (or a notice that says what is done
instead). None is silently ignored. `cache-from` and `cache-to` are read by cache.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import InputError
from .cache import cache_plan
from .gha import GhaCache
from .inputs import parse_bool, parse_list


@dataclass
class Translation:
    """What build-push-action-style inputs amount to."""

    platform: str | None = None
    platforms: list[str] = field(default_factory=list)
    cache_repo: str | None = None
    use_cache: bool | None = None
    # A cache-to registry entry: kaniko writes the layer cache (else it only reads it).
    cache_write: bool = False
    cache_ignore_error: bool = False
    # type=local: the directories kaniko's layer cache is read from and written to.
    cache_local_src: str | None = None
    cache_local_dest: str | None = None
    # type=gha: the scopes kept in those directories (restored / saved by the action's steps).
    cache_gha_from: GhaCache | None = None
    cache_gha_to: GhaCache | None = None
    # no-cache-filters: the whole build goes without the cache.
    uncached: bool = False
    shm_size: int | None = None
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


_REFUSED = {
    "ssh": "kaniko has no SSH agent forwarding; fetch private sources before the build, or "
    "pass a key with 'secret-files' and RUN --mount=type=secret",
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


def translate(raw: Mapping[str, str], gha_workspace: str | None = None) -> Translation:
    """build-push-action's inputs as kaniko settings; `gha_workspace`, the workspace of a
    workflow step, holds the directories of gha caches (None: not in a workflow)."""
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
    plan = cache_plan(raw["cache-from"], raw["cache-to"], gha_workspace)
    out.warnings += plan.warnings
    if plan.repo is not None or plan.local:
        out.cache_repo = plan.repo
        out.cache_local_src = plan.local_src
        out.cache_local_dest = plan.local_dest
        out.cache_gha_from = plan.gha_from
        out.cache_gha_to = plan.gha_to
        out.cache_write = plan.write
        out.cache_ignore_error = plan.ignore_error
        if out.use_cache is None:
            out.use_cache = True
    stages = parse_list(raw["no-cache-filters"])
    if stages:
        # kaniko's cache is all or nothing: those stages rebuilt means everything rebuilt.
        out.uncached = True
        out.notices.append(
            f"input 'no-cache-filters' ({', '.join(stages)}): kaniko cannot leave single "
            "stages out of its layer cache, so the whole image is built without it"
        )
    return out
