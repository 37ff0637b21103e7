"""The `build-contexts` input: one `name=VALUE` per line, as build-push-action takes it. Pure.

Two of BuildKit's kinds of named context can be built with kaniko: an image
(`docker-image://REF`) and a local directory (a path relative to the workspace). The others
(`oci-layout://`, URLs, git repositories, bake's `target:`) are refused with what to use
instead. Local paths are resolved against the workspace by build_spec.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..dockerfile.named import context_key
from ..errors import InputError
from .references import parse_reference

INPUT = "build-contexts"
IMAGE_SCHEME = "docker-image://"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# A context name is matched like an image name or a stage name.
_NAME = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$")


@dataclass(frozen=True)
class NamedContext:
    name: str  # as written
    key: str  # what FROM and --from values are matched by (context_key)
    image: str | None  # docker-image://: the reference
    directory: str | None  # a local directory, as written (relative to the workspace)


def _refusal(name: str, value: str) -> str | None:
    lowered = value.lower()
    if lowered.startswith("oci-layout://"):
        return (
            f"'{name}={value}': kaniko cannot read an OCI layout as a context; push the "
            f"image to a registry and use {name}=docker-image://REF"
        )
    if lowered.startswith("target:"):
        return (
            f"'{name}={value}': 'target:' is a docker buildx bake form, not one of "
            "build-contexts; build that target first and use docker-image://REF"
        )
    if lowered.startswith("git@") or lowered.endswith(".git") or ".git#" in lowered:
        return (
            f"'{name}={value}': git contexts are not fetched by this action; check the "
            "repository out (actions/checkout with 'path:') and name that directory"
        )
    if lowered.startswith(("http://", "https://")):
        return (
            f"'{name}={value}': remote contexts are not fetched by this action; download "
            "it in an earlier step and name that directory"
        )
    if _SCHEME.match(value):
        return (
            f"'{name}={value}': only docker-image://REF and local directories are "
            "supported; give one of those"
        )
    return None


def parse_build_contexts(value: str) -> tuple[NamedContext, ...]:
    """The named contexts the input lists, in order; an InputError for a malformed or
    unsupported entry, or a name given twice."""
    found: list[NamedContext] = []
    seen: set[str] = set()
    for number, raw in enumerate(value.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        name, sep, target = line.partition("=")
        name, target = name.strip(), target.strip()
        if not sep or not name or not target:
            raise InputError(INPUT, f"line {number}: '{line}' is not name=VALUE")
        if not _NAME.match(name):
            raise InputError(
                INPUT, f"line {number}: '{name}' is not a context name (an image or stage name)"
            )
        key = context_key(name)
        if key in seen:
            raise InputError(INPUT, f"line {number}: the context '{name}' is given twice")
        seen.add(key)
        if target.lower().startswith(IMAGE_SCHEME):
            ref = target[len(IMAGE_SCHEME) :]
            parse_reference(INPUT, ref)
            found.append(NamedContext(name, key, ref, None))
            continue
        refusal = _refusal(name, target)
        if refusal is not None:
            raise InputError(INPUT, refusal)
        found.append(NamedContext(name, key, None, target))
    return tuple(found)
