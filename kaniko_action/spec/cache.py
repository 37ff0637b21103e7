"""build-push-action's `cache-from` and `cache-to` (buildx `--cache-from`/`--cache-to`): each
line parsed into a frozen `CacheEntry`, and what kaniko makes of them (`CachePlan`). Pure.

kaniko has one layer cache, which it reads and, unless told `--no-push-cache`, writes: a
registry repository (`--cache-repo=REPO`), or an OCI-layout directory per cache key in the
chroot (`--cache-repo=oci:DIR`). So `type=registry,ref=REPO` (or a bare `REPO`) maps to that
repository, and `type=local,src=DIR` / `type=local,dest=DIR` to a directory on the runner that
the action copies into the chroot before the build and back after it (staging/layer_cache.py).
`type=gha[,scope=S]` is such a directory too, one per scope in the workspace, which the
action's own steps restore from and save to the GitHub Actions cache (spec/gha.py). Every other entry is accepted with a warning that says it is not honoured and why: a cache
setting never fails a build, as a cache miss never does.

Warnings name an entry by its input, line and type, with the values of attributes known to
be harmless only: a gha token, s3 or azblob keys, a URL that may carry a SAS token are never
printed.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ..errors import InputError
from .gha import GhaCache, gha_cache
from .references import parse_reference

# Attributes whose values may be shown in a warning; any other value is hidden.
_SHOWN = frozenset(
    {
        "ref",
        "mode",
        "scope",
        "src",
        "dest",
        "tag",
        "digest",
        "name",
        "region",
        "bucket",
        "prefix",
        "manifests_prefix",
        "blobs_prefix",
        "ignore-error",
        "compression",
        "compression-level",
        "force-compression",
        "oci-mediatypes",
        "image-manifest",
        "use_path_style",
        "timeout",
    }
)
_HIDDEN = "(hidden)"
# Go's strconv.ParseBool, which buildkit reads `ignore-error` with.
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})

_NOT_HONOURED = {
    "inline": "kaniko cannot embed cache metadata in the image it pushes",
    "s3": "kaniko cannot read or write a cache in S3",
    "azblob": "kaniko cannot read or write a cache in Azure Blob Storage",
}
_ADVICE = (
    "kaniko keeps its layer cache in a registry repository (type=registry,ref=REPO), a "
    "directory (type=local,src=DIR / type=local,dest=DIR) or the GitHub Actions cache "
    "(type=gha)"
)
# The attribute naming a local cache's directory, by input.
_LOCAL_PATH = {"cache-from": "src", "cache-to": "dest"}
# Types kept in a directory on the runner: `local` names it, `gha` has one per scope in
# RUNNER_TEMP that the action restores and saves (spec/gha.py).
_DIRECTORY_TYPES = ("local", "gha")


@dataclass(frozen=True)
class CacheEntry:
    """One line of `cache-from` or `cache-to`, as buildx reads it: its type and the other
    attributes (keys lower-cased). A bare `REPO` is `type=registry,ref=REPO`."""

    input: str
    line: int
    type: str
    attrs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def shown(self) -> str:
        """`type=...` and the attributes, secret-capable values hidden."""
        parts = [f"type={self.type or '(none)'}"]
        parts += [f"{k}={v if k in _SHOWN else _HIDDEN}" for k, v in self.attrs.items()]
        return ",".join(parts)

    def named(self) -> str:
        return f"input '{self.input}': entry {self.line} ({self.shown()})"


@dataclass(frozen=True)
class LocalCache:
    """`type=local`: the runner directories kaniko's layer cache is read from (`src`, None
    when no cache-from names one) and written to (`dest`), as real paths."""

    src: Path | None
    dest: Path | None
    # Add to `dest` rather than replace it: the second and later platforms of one build.
    merge: bool = False
    # type=gha in cache-to: the scope `dest` is saved to by the action's next step.
    gha: GhaCache | None = None


def _entry(name: str, line: int, text: str) -> CacheEntry | str:
    """The entry, or why the line is not one (in words that never quote a value)."""
    if "=" not in text:
        return CacheEntry(name, line, "registry", MappingProxyType({"ref": text}))
    fields = next(csv.reader([text], strict=False), [])
    kind = ""
    attrs: dict[str, str] = {}
    for item in fields:
        key, sep, value = item.strip().partition("=")
        key = key.strip().lower()
        if not sep or not key:
            return f"input '{name}': entry {line} is not key=value pairs and is not honoured"
        if key == "type":
            kind = value.strip()
        else:
            attrs[key] = value.strip()
    return CacheEntry(name, line, kind, MappingProxyType(attrs))


def parse_cache_entries(name: str, value: str) -> tuple[tuple[CacheEntry, ...], tuple[str, ...]]:
    """The entries of one input (one per line, as build-push-action splits it: commas belong
    to the entry), and warnings for lines that are not entries."""
    entries: list[CacheEntry] = []
    warnings: list[str] = []
    for line, raw in enumerate(value.splitlines(), start=1):
        text = raw.strip()
        if not text:
            continue
        parsed = _entry(name, line, text)
        if isinstance(parsed, str):
            warnings.append(parsed)
        else:
            entries.append(parsed)
    return tuple(entries), tuple(warnings)


@dataclass(frozen=True)
class CachePlan:
    """What kaniko does with the entries: the repository (None: no registry entry), or the
    local directories to read from (`local_src`) and write to (`local_dest`), as given;
    whether it writes (a `cache-to` entry), whether a failure to write may not fail the
    build (`ignore-error=true` on that entry), and a warning per entry not honoured."""

    repo: str | None = None
    write: bool = False
    ignore_error: bool = False
    entries: tuple[CacheEntry, ...] = ()
    warnings: tuple[str, ...] = ()
    local_src: str | None = None
    local_dest: str | None = None
    # type=gha: the scopes whose directories are local_src (restored before the build) and
    # local_dest (saved after it).
    gha_from: GhaCache | None = None
    gha_to: GhaCache | None = None

    @property
    def local(self) -> bool:
        return self.local_src is not None or self.local_dest is not None


def strip_tag(ref: str) -> str:
    """The repository of `REPO[:TAG][@DIGEST]`: kaniko names its cache entries by tag."""
    ref = ref.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return ref.rsplit(":", 1)[0] if ":" in last else ref


def _why_not(entry: CacheEntry, gha_workspace: str | None) -> str | None:
    """Why kaniko cannot honour an entry, or None for one it can."""
    if entry.type == "gha":
        if gha_workspace:
            return None
        return f"the GitHub Actions cache is reached from a workflow step only; {_ADVICE}"
    if entry.type == "local":
        attr = _LOCAL_PATH[entry.input]
        return None if entry.attrs.get(attr) else f"it has no {attr}= (the cache directory)"
    if entry.type == "registry":
        ref = entry.attrs.get("ref", "")
        if not ref:
            return "it has no ref="
        try:
            parse_reference(entry.input, ref)
        except InputError:
            return "its ref is not an image repository"
        return None
    if not entry.type:
        return f"it has no type=; {_ADVICE}"
    reason = _NOT_HONOURED.get(entry.type, f"kaniko knows no cache of type '{entry.type}'")
    return f"{reason}; {_ADVICE}"


def _where(entry: CacheEntry) -> str:
    """What an entry names: its repository, or its directory."""
    if entry.type == "local":
        return f"local:{entry.attrs[_LOCAL_PATH[entry.input]]}"
    if entry.type == "gha":
        return f"gha:{entry.attrs.get('scope') or 'buildkit'}"
    return strip_tag(entry.attrs["ref"])


def _gha(entry: CacheEntry | None, gha_workspace: str | None) -> GhaCache | None:
    if entry is None or entry.type != "gha" or not gha_workspace:
        return None
    return gha_cache(entry.attrs.get("scope"), gha_workspace)


def _directory(entry: CacheEntry | None, gha_workspace: str | None) -> str | None:
    """The runner directory a local or gha entry reads or writes."""
    if entry is None:
        return None
    gha = _gha(entry, gha_workspace)
    return gha.directory if gha is not None else entry.attrs[_LOCAL_PATH[entry.input]]


def cache_plan(cache_from: str, cache_to: str, gha_workspace: str | None = None) -> CachePlan:
    """The plan for both inputs. kaniko has one cache: that of the first `cache-to` entry
    kaniko can use (where it writes, and reads too), else of the first `cache-from` one. A
    cache in runner directories reads the first local or gha `cache-from` entry's directory
    and writes the first local or gha `cache-to` one's; entries naming another cache are
    warned about. `gha_workspace` is the workspace of a workflow step, which holds the gha
    caches' directories: without one (outside a workflow), gha entries are not honoured."""
    froms, from_warnings = parse_cache_entries("cache-from", cache_from)
    tos, to_warnings = parse_cache_entries("cache-to", cache_to)
    warnings = [*from_warnings, *to_warnings]
    usable: list[CacheEntry] = []
    for entry in (*froms, *tos):
        why = _why_not(entry, gha_workspace)
        if why is None:
            usable.append(entry)
        else:
            warnings.append(f"{entry.named()} is not honoured: {why}")
    writes = [e for e in usable if e.input == "cache-to"]
    chosen = writes[0] if writes else (usable[0] if usable else None)
    if chosen is None:
        return CachePlan(entries=(*froms, *tos), warnings=tuple(warnings))
    local = chosen.type in _DIRECTORY_TYPES
    described = (
        f"the runner directory of {chosen.named()}" if local else f"the repository {_where(chosen)}"
    )
    used: dict[str, CacheEntry] = {}  # by input: the entry kaniko's one cache comes from
    for entry in usable:
        if local:
            fits = entry.type in _DIRECTORY_TYPES and entry.input not in used
        else:
            fits = entry.type == "registry" and _where(entry) == _where(chosen)
        if fits:
            used.setdefault(entry.input, entry)
            continue
        verb = "written" if entry.input == "cache-to" else "read"
        warnings.append(f"{entry.named()} is not {verb}: kaniko uses one layer cache, {described}")
    write = bool(writes)
    ignore_error = write and writes[0].attrs.get("ignore-error", "") in _GO_TRUE
    if local:
        src = used.get("cache-from")
        dest = used.get("cache-to")
        return CachePlan(
            write=write,
            ignore_error=ignore_error,
            entries=(*froms, *tos),
            warnings=tuple(warnings),
            local_src=_directory(src, gha_workspace),
            local_dest=_directory(dest, gha_workspace),
            gha_from=_gha(src, gha_workspace),
            gha_to=_gha(dest, gha_workspace),
        )
    return CachePlan(
        repo=_where(chosen),
        write=write,
        ignore_error=ignore_error,
        entries=(*froms, *tos),
        warnings=tuple(warnings),
    )
