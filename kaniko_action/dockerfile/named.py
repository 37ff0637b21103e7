"""Named build contexts (build-push-action's `build-contexts`) written into a Dockerfile that
kaniko can build, line for line. Pure.

BuildKit lets a Dockerfile name extra contexts as if they were stages: `FROM name`,
`COPY --from=name`, `RUN --mount=from=name`. A named context overrides both an image of
that name and a stage of that name. kaniko knows none of this, so the chroot's copy of the
Dockerfile is rewritten:
- an image context: the word naming `name` becomes the image reference (flags such as
  `--platform=` and `AS x` stay);
- a local directory context: `COPY --from=name SRC... DST` becomes
  `COPY --chown=0:0 PREFIX/SRC... DST`, PREFIX being where the directory is staged, as seen
  from kaniko's context; `--chown=0:0` (unless the COPY has its own) keeps BuildKit's owner
  of files copied from another stage or context, root, whatever `USER` says.
Only the lines of a rewritten instruction change: it is written on its first line and its
continuation lines are left empty, so every other instruction keeps its line number.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import InputError
from .parser import Instruction, parse

INPUT = "build-contexts"
# Characters whose meaning kaniko works out during the build: variables, quoting, wildcards.
_UNKNOWABLE = re.compile(r"[$'\"\\*?\[]")


def context_key(name: str) -> str:
    """The name a context, a stage or an image is matched by, as BuildKit normalizes it:
    lower case, without `docker.io/`, `library/` and a `:latest` tag."""
    key = name.lower()
    for prefix in ("docker.io/", "index.docker.io/"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
            if key.startswith("library/"):
                key = key[len("library/") :]
            break
    if "@" not in key and key.endswith(":latest"):
        key = key[: -len(":latest")]
    return key


@dataclass(frozen=True)
class Rewrites:
    """What each context name (a context_key) stands for."""

    images: Mapping[str, str]  # key -> image reference
    dirs: Mapping[str, str]  # key -> the staged directory, relative to kaniko's context


def _split_flags(words: list[str]) -> tuple[list[str], list[str]]:
    flags: list[str] = []
    while words and words[0].startswith("--"):
        flags.append(words.pop(0))
    return flags, words


def _from_line(ins: Instruction, rewrites: Rewrites) -> str | None:
    words = ins.text.split(" ")
    flags, rest = _split_flags(words[1:])
    if not rest:
        return None
    key = context_key(rest[0])
    if key in rewrites.images:
        return " ".join([words[0], *flags, rewrites.images[key], *rest[1:]])
    if key in rewrites.dirs:
        raise InputError(
            INPUT,
            f"line {ins.line}: FROM {rest[0]} starts a stage from the local directory "
            f"context '{rest[0]}'; kaniko starts stages from images only: copy from it "
            f"with COPY --from={rest[0]}, or give an image (docker-image://REF)",
        )
    return None


def _source(ins: Instruction, name: str, prefix: str, source: str) -> str:
    if source.startswith("<<") or _UNKNOWABLE.search(source):
        raise InputError(
            INPUT,
            f"line {ins.line}: COPY --from={name} reads '{source}' from the local directory "
            f"context '{name}': a source with a variable, quote, wildcard or here-document "
            "cannot be rewritten for kaniko; name the files or directories literally",
        )
    rel = posixpath.normpath("/" + source).lstrip("/")
    path = prefix if rel in ("", ".") else f"{prefix}/{rel}"
    return path + "/" if source.endswith("/") and not path.endswith("/") else path


def _copy_line(ins: Instruction, rewrites: Rewrites) -> str | None:
    words = ins.text.split(" ")
    flags, rest = _split_flags(words[1:])
    chosen = [f for f in flags if f.lower().startswith("--from=")]
    if not chosen:
        return None
    name = chosen[-1].split("=", 1)[1]
    key = context_key(name)
    if key in rewrites.images:
        flags = [f"--from={rewrites.images[key]}" if f in chosen else f for f in flags]
        return " ".join([words[0], *flags, *rest])
    if key not in rewrites.dirs:
        return None
    prefix = rewrites.dirs[key]
    kept = [f for f in flags if f not in chosen]
    if not any(f.lower().startswith("--chown=") for f in kept):
        kept.insert(0, "--chown=0:0")
    arguments = " ".join(rest)
    if arguments.startswith("["):
        try:
            parsed = json.loads(arguments)
        except ValueError:
            parsed = None
        if not isinstance(parsed, list) or len(parsed) < 2:
            raise InputError(INPUT, f"line {ins.line}: cannot read the JSON form of this COPY")
        sources = [_source(ins, name, prefix, str(s)) for s in parsed[:-1]]
        tail = json.dumps([*sources, str(parsed[-1])])
    else:
        if len(rest) < 2:
            return None
        sources = [_source(ins, name, prefix, s) for s in rest[:-1]]
        tail = " ".join([*sources, rest[-1]])
    return " ".join([words[0], *kept, tail])


_MOUNT_FROM = re.compile(r"(?:^|,)from=([^,]+)", re.IGNORECASE)


def _check_run(ins: Instruction, rewrites: Rewrites) -> None:
    words = ins.text.split(" ")
    flags, _ = _split_flags(words[1:])
    for flag in flags:
        if not flag.lower().startswith("--mount="):
            continue
        match = _MOUNT_FROM.search(flag.split("=", 1)[1])
        if match and context_key(match.group(1)) in {**rewrites.images, **rewrites.dirs}:
            raise InputError(
                INPUT,
                f"line {ins.line}: RUN --mount=from={match.group(1)} mounts a named context; "
                "kaniko has no such mounts: COPY --from it into the stage first",
            )


def rewrite_dockerfile(text: str, rewrites: Rewrites) -> str:
    """The Dockerfile with the named contexts in `rewrites` applied, line numbers kept."""
    if not rewrites.images and not rewrites.dirs:
        return text
    lines = text.split("\n")
    for ins in parse(text):
        changed: str | None = None
        if ins.keyword == "FROM":
            changed = _from_line(ins, rewrites)
        elif ins.keyword == "COPY":
            changed = _copy_line(ins, rewrites)
        elif ins.keyword == "RUN":
            _check_run(ins, rewrites)
        if changed is None:
            continue
        indent = re.match(r"\s*", lines[ins.line - 1])
        lines[ins.line - 1] = (indent.group(0) if indent else "") + changed
        for number in range(ins.line, ins.end_line):
            lines[number] = ""
    return "\n".join(lines)
