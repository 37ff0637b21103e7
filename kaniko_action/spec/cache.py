"""build-push-action's `cache-from` and `cache-to` (buildx `--cache-from`/`--cache-to`): each
line parsed into a frozen `CacheEntry`, and what kaniko makes of them (`CachePlan`). Pure.

kaniko has one layer cache, in one registry repository (`--cache-repo`), which it reads and,
unless told `--no-push-cache`, writes. So `type=registry,ref=REPO` (or a bare `REPO`) maps
to that repository; every other entry is accepted with a warning that says it is not
honoured and why: a cache setting never fails a build, as a cache miss never does.

Warnings name an entry by its input, line and type, with the values of attributes known to
be harmless only: a gha token, s3 or azblob keys, a URL that may carry a SAS token are never
printed.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..errors import InputError
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
    "local": "a local cache directory is not supported yet",
    "gha": "the GitHub Actions cache is not supported yet",
}
_ADVICE = "kaniko keeps its layer cache in a registry repository (type=registry,ref=REPO)"


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
    """What kaniko does with the entries: the repository (None: no registry entry), whether
    it writes to it (a `cache-to` registry entry), whether a failure to write may not fail
    the build (`ignore-error=true` on that entry), and a warning per entry not honoured."""

    repo: str | None = None
    write: bool = False
    ignore_error: bool = False
    entries: tuple[CacheEntry, ...] = ()
    warnings: tuple[str, ...] = ()


def strip_tag(ref: str) -> str:
    """The repository of `REPO[:TAG][@DIGEST]`: kaniko names its cache entries by tag."""
    ref = ref.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return ref.rsplit(":", 1)[0] if ":" in last else ref


def _why_not(entry: CacheEntry) -> str | None:
    """Why kaniko cannot honour an entry, or None for a registry entry it can."""
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


def cache_plan(cache_from: str, cache_to: str) -> CachePlan:
    """The plan for both inputs. The repository is the first `cache-to` registry entry's
    (where kaniko writes, and reads too), else the first `cache-from` one's; registry
    entries naming another repository are warned about."""
    froms, from_warnings = parse_cache_entries("cache-from", cache_from)
    tos, to_warnings = parse_cache_entries("cache-to", cache_to)
    warnings = [*from_warnings, *to_warnings]
    usable: list[CacheEntry] = []
    for entry in (*froms, *tos):
        why = _why_not(entry)
        if why is None:
            usable.append(entry)
        else:
            warnings.append(f"{entry.named()} is not honoured: {why}")
    writes = [e for e in usable if e.input == "cache-to"]
    chosen = writes[0] if writes else (usable[0] if usable else None)
    if chosen is None:
        return CachePlan(entries=(*froms, *tos), warnings=tuple(warnings))
    repo = strip_tag(chosen.attrs["ref"])
    for entry in usable:
        if strip_tag(entry.attrs["ref"]) != repo:
            verb = "written" if entry.input == "cache-to" else "read"
            warnings.append(
                f"{entry.named()} is not {verb}: kaniko reads and writes one cache "
                f"repository, {repo}"
            )
    ignore_error = bool(writes) and writes[0].attrs.get("ignore-error", "") in _GO_TRUE
    return CachePlan(
        repo=repo,
        write=bool(writes),
        ignore_error=ignore_error,
        entries=(*froms, *tos),
        warnings=tuple(warnings),
    )
