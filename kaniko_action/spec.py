"""Raw inputs -> a typed, validated build specification. No filesystem writes, no processes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .inputs import parse_bool, parse_list, parse_pairs
from .paths import BuildPaths, resolve_paths
from .references import Reference, check_registry_host, parse_reference


@dataclass(frozen=True)
class BuildSpec:
    paths: BuildPaths
    destinations: tuple[str, ...]
    push: bool
    build_args: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    target: str | None = None
    insecure_registries: tuple[str, ...] = ()
    executor_dir: Path = Path("/kaniko")
    references: tuple[Reference, ...] = field(default=(), compare=False)


def _destinations(raw: Mapping[str, str]) -> tuple[list[str], list[Reference]]:
    destinations: list[str] = []
    references: list[Reference] = []
    for value in parse_list(raw["tags"]):
        references.append(parse_reference("tags", value))
        destinations.append(value)
    image = raw["image"]
    if image:
        tag = raw["tag"] or "latest"
        ref = parse_reference("image", image)
        if ref.tag or ref.digest:
            raise InputError("image", f"'{image}' must not carry a tag or digest; use 'tag'")
        full = f"{image}:{tag}"
        references.append(parse_reference("tag", full))
        destinations.append(full)
    elif raw["tag"] not in ("", "latest"):
        raise InputError("tag", "is set but 'image' is empty; put full references in 'tags'")
    unique: dict[str, Reference] = {}
    for dest, ref in zip(destinations, references):
        unique.setdefault(dest, ref)
    return list(unique), list(unique.values())


def build_spec(raw: Mapping[str, str], workspace: str) -> BuildSpec:
    """Validate every input and resolve paths; raises InputError naming the first bad input."""
    push = parse_bool("push", raw["push"])
    destinations, references = _destinations(raw)
    if push and not destinations:
        raise InputError("tags", "no destination: set 'tags' or 'image', or set 'push: false'")
    for ref, dest in zip(references, destinations):
        if ref.digest:
            raise InputError("tags", f"'{dest}' has a digest; a destination needs a tag")
    target = raw["target"] or None
    if target is not None and any(c.isspace() for c in target):
        raise InputError("target", f"'{target}' is not a stage name")
    insecure = tuple(
        check_registry_host("insecure-registries", v)
        for v in parse_list(raw["insecure-registries"])
    )
    executor_dir = Path(raw["executor-dir"] or "/kaniko")
    if not executor_dir.is_absolute():
        raise InputError("executor-dir", f"'{executor_dir}' must be an absolute path")
    paths = resolve_paths(workspace, raw["context"], raw["file"], raw["dockerfile"])
    return BuildSpec(
        paths=paths,
        destinations=tuple(destinations),
        push=push,
        build_args=tuple(parse_pairs("build-args", raw["build-args"])),
        labels=tuple(parse_pairs("labels", raw["labels"])),
        target=target,
        insecure_registries=insecure,
        executor_dir=executor_dir,
        references=tuple(references),
    )
