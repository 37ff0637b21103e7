"""`type=gha` in cache-from / cache-to: kaniko's local layer cache kept in the GitHub Actions
cache. Pure: the directory each scope's cache is restored into and saved from, and its keys.

A `run:` step never sees the cache service's token (the runner gives it to node and
container actions only), so the composite action itself restores the directory with
actions/cache/restore before the build step and saves it with actions/cache/save after it;
the build step treats the directory as a `type=local` cache (spec/cache.py,
staging/layer_cache.py), and the action's last step removes it.

The directory is `.kaniko-build-gha-cache-<digest of the scope>` at the top of the workspace,
left out of every staged context (staging/context.py). actions/cache makes an entry's version
from the path it is given, and packs and unpacks paths relative to the workspace: a path
relative to the workspace is the same string, and lands in the same place, on every runner
(GitHub's, actions-runner-controller's, a VM with several runners, act), so they share
entries, and two runners never share one directory.

Keys: `kaniko-build-cache/<scope>/<hash of the entry names>`, the scope percent-encoded so
that one scope is never a prefix of another. A restore asks for the prefix `kaniko-build-cache/
<scope>/`, which finds the newest entry of the scope (the cache service matches restore keys
by prefix, newest first). kaniko names each cache entry by a digest of what made the layer,
so equal names mean equal contents: a build that used and made nothing new gets the key it
restored, and the save is skipped. Every save holds only the entries its build looked up or
made, so what a build no longer uses leaves the cache with the older keys, which the service
evicts (unused for 7 days, or the oldest first above the repository's 10 GB).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath
from urllib.parse import quote

# BuildKit's default scope of a gha cache.
DEFAULT_SCOPE = "buildkit"
KEY_ROOT = "kaniko-build-cache"
# At the top of the workspace.
DIRECTORY_PREFIX = ".kaniko-build-gha-cache-"
# The cache service refuses keys above 512 characters; a longer scope is named by its digest.
_LONGEST_SCOPE = 200


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class GhaCache:
    """One scope of the GitHub Actions cache and the runner directory that holds it: `name`
    in the workspace `workspace`."""

    scope: str
    workspace: str
    name: str

    @property
    def directory(self) -> str:
        return str(PurePath(self.workspace) / self.name)

    @property
    def prefix(self) -> str:
        """The keys of this scope start with it, and no other scope's do."""
        scope = quote(self.scope, safe="")
        if len(scope) > _LONGEST_SCOPE:
            scope = "sha256-" + _digest(self.scope, 64)
        return f"{KEY_ROOT}/{scope}/"

    def key(self, entries: Iterable[str]) -> str:
        """The key of a save holding these cache entries (their names)."""
        return self.prefix + _digest("\n".join(sorted(set(entries))), 32)


def gha_cache(scope: str | None, workspace: str) -> GhaCache:
    """The cache of `scope` (BuildKit's default when not given) for a step whose workspace
    is `workspace`."""
    scope = scope or DEFAULT_SCOPE
    return GhaCache(scope, workspace, DIRECTORY_PREFIX + _digest(scope, 16))
