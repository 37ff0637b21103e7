"""build-push-action's `outputs` input (buildx `--output`): the exports kaniko can produce.
Pure.

    type=registry[,name=REF]            push
    type=image,push=true[,name=REF]     push
    type=image[,name=REF]               push, with the `push` input true (buildx's --push)
    type=docker,dest=FILE[,name=REF]    docker-save tarball (as `tar-path`)
    type=oci,dest=FILE[,name=REF]       OCI image layout, as a tarball
    type=oci,dest=DIR,tar=false         OCI image layout directory (as `oci-layout-path`)
    type=local,dest=DIR (or a bare DIR) the image's filesystem in a new (or empty) directory
    type=tar,dest=FILE                  the image's filesystem as one tarball
    type=cacheonly                      nothing at all (and no push)

Several platforms put each platform's filesystem in a sub-directory named after it
(`linux_amd64/`), in the directory or the tarball, as BuildKit does by default. Everything
else is refused with the reason.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

from ..errors import InputError
from .inputs import parse_bool, parse_list

NAME = "outputs"
_ALLOWED = {
    "registry": {"type", "name", "push"},
    "image": {"type", "name", "push"},
    "docker": {"type", "dest", "name"},
    "oci": {"type", "dest", "tar", "name"},
    "local": {"type", "dest"},
    "tar": {"type", "dest"},
    "cacheonly": {"type"},
}
# Attributes BuildKit knows for a type that the action refuses, and why.
_REFUSED_ATTRIBUTES = {
    "platform-split": "several platforms always get one sub-directory each (linux_amd64/), "
    "BuildKit's default",
}


@dataclass(frozen=True)
class OutputPlan:
    """What `outputs` asks for; paths are as written (resolved against the workspace later)."""

    push: bool = False
    docker_tar: str | None = None
    oci_tar: str | None = None
    oci_dir: str | None = None
    names: tuple[str, ...] = ()
    # The image's filesystem: a directory (type=local) and a tarball (type=tar).
    local_dir: str | None = None
    rootfs_tar: str | None = None
    # type=cacheonly: the build exports nothing.
    cacheonly: bool = False
    # A type=image entry without push=true: it pushes only with the `push` input true (as
    # buildx's --push sets push=true on it); refused otherwise (build_spec).
    unpushed_image: str | None = None


def _attributes(entry: str) -> dict[str, str]:
    fields = next(csv.reader([entry], strict=False), [])
    attrs: dict[str, str] = {}
    for item in fields:
        key, sep, value = item.strip().partition("=")
        key = key.strip().lower()
        if not sep:
            raise InputError(NAME, f"'{entry}': '{item}' is not key=value")
        if key in attrs:
            raise InputError(NAME, f"'{entry}': '{key}' is given twice")
        attrs[key] = value.strip()
    return attrs


def _entry(entry: str) -> dict[str, str]:
    if entry == "-":
        raise InputError(
            NAME,
            "'-' writes a tarball to standard output, which is the step's log here: "
            "use type=tar,dest=FILE",
        )
    if "=" not in entry:
        # buildx reads a bare path as the local exporter's destination.
        return {"type": "local", "dest": entry}
    attrs = _attributes(entry)
    kind = attrs.get("type", "")
    if not kind:
        raise InputError(NAME, f"'{entry}' has no type=")
    if kind not in _ALLOWED:
        raise InputError(
            NAME,
            f"'{entry}': unknown type '{kind}' (possible: {', '.join(_ALLOWED)})",
        )
    for key in attrs:
        if key in _REFUSED_ATTRIBUTES and key not in _ALLOWED[kind]:
            raise InputError(
                NAME, f"'{entry}': attribute '{key}' is not supported: {_REFUSED_ATTRIBUTES[key]}"
            )
        if key not in _ALLOWED[kind] and not key.startswith("annotation"):
            raise InputError(
                NAME, f"'{entry}': attribute '{key}' of type={kind} has no kaniko equivalent"
            )
        if key.startswith("annotation"):
            raise InputError(NAME, f"'{entry}': kaniko writes no annotations; use 'labels'")
    return attrs


def unpushed_image_refused(entry: str, by_input: bool) -> str:
    """Why an image export that does not push is refused; `by_input`: the `push` input
    would make it push."""
    push = "push=true (or set 'push: true')" if by_input else "push=true"
    return (
        f"'{entry}': without push=true there is no image store to keep the image in; add "
        f"{push}, or write it with type=docker,dest=FILE"
    )


def parse_outputs(value: str) -> OutputPlan | None:
    """The plan, or None when `outputs` is empty."""
    entries = parse_list(value, commas=False)
    if not entries:
        return None
    push = False
    unpushed: str | None = None
    files: dict[str, str] = {}
    names: list[str] = []
    parsed = [(entry, _entry(entry)) for entry in entries]
    if any(attrs["type"] == "cacheonly" for _text, attrs in parsed):
        if len(parsed) > 1:
            raise InputError(
                NAME, "type=cacheonly exports nothing: it cannot be combined with other outputs"
            )
        return OutputPlan(cacheonly=True)
    for entry, attrs in parsed:
        kind = attrs["type"]
        names += [n.strip() for n in attrs.get("name", "").split(",") if n.strip()]
        if kind in ("registry", "image"):
            wanted = parse_bool(NAME, attrs.get("push", "true" if kind == "registry" else "false"))
            if wanted:
                push = True
            elif kind == "registry" or "push" in attrs:
                raise InputError(NAME, unpushed_image_refused(entry, by_input=False))
            else:
                unpushed = unpushed or entry
            continue
        dest = attrs.get("dest", "")
        if not dest or dest == "-":
            raise InputError(
                NAME,
                f"'{entry}' needs dest={'DIR' if kind == 'local' else 'FILE'}"
                + (" (there is no Docker daemon to load into)" if kind == "docker" else ""),
            )
        if kind in ("docker", "local", "tar"):
            slot = kind
        else:
            slot = "oci" if parse_bool(NAME, attrs.get("tar", "true")) else "oci-dir"
        if slot in files:
            raise InputError(NAME, f"'{entry}': only one type={kind} output of this form")
        files[slot] = dest
    return OutputPlan(
        push=push,
        docker_tar=files.get("docker"),
        oci_tar=files.get("oci"),
        oci_dir=files.get("oci-dir"),
        names=tuple(dict.fromkeys(names)),
        local_dir=files.get("local"),
        rootfs_tar=files.get("tar"),
        unpushed_image=unpushed,
    )
