"""What a Dockerfile does on each platform. Pure.

kaniko builds every stage for `--custom-platform` and ignores `FROM --platform=...`. BuildKit
honours it, and cross-compiling Dockerfiles rely on that (`FROM --platform=$BUILDPLATFORM`
stages run natively and write binaries for `$TARGETARCH`). The plan made here says, per stage,
which platform its base image must be for, so the action can pin those base images to the
right manifest by digest, and which stages run `RUN` steps for a foreign architecture (those,
and only those, need a binfmt_misc handler on the runner).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ..dockerfile.parser import Instruction
from ..errors import InputError
from ..oci.platform import Platform, parse_platform

# Architectures a host runs without emulation besides its own.
_NATIVE_EXTRA = {"amd64": ("386",)}


def runs_natively(host: Platform, platform: Platform) -> bool:
    return platform.arch == host.arch or platform.arch in _NATIVE_EXTRA.get(host.arch, ())


def predefined_args(build: Platform, target: Platform) -> dict[str, str]:
    """BuildKit's automatic platform build arguments (the maintained executor sets them too;
    the archived one does not)."""
    return {
        "BUILDPLATFORM": str(build),
        "BUILDOS": build.os,
        "BUILDARCH": build.arch,
        "BUILDVARIANT": build.variant,
        "TARGETPLATFORM": str(target),
        "TARGETOS": target.os,
        "TARGETARCH": target.arch,
        "TARGETVARIANT": target.variant,
    }


_VAR = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Dockerfile variable substitution for FROM lines: `$A`, `${A}`, `${A:-x}`, `${A:+x}`
    (and the forms without `:`); undeclared variables are empty, `\\$` is a literal `$`."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        operator, word = match.group(2), match.group(3) or ""
        value = values.get(name)
        if operator == ":-":
            return value if value else word
        if operator == "-":
            return value if value is not None else word
        if operator == ":+":
            return word if value else ""
        if operator == "+":
            return word if value is not None else ""
        return value or ""

    pieces = text.split("\\$")
    return "$".join(_VAR.sub(replace, piece) for piece in pieces)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def meta_args(instructions: Sequence[Instruction], build_args: Mapping[str, str]) -> dict[str, str]:
    """ARGs declared before the first FROM, with build-args applied to the declared ones."""
    values: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "FROM":
            break
        if ins.keyword != "ARG":
            continue
        for item in ins.text.split()[1:]:
            name, sep, default = item.partition("=")
            if name in build_args:
                values[name] = build_args[name]
            elif sep:
                values[name] = _unquote(substitute(default, values))
    return values


@dataclass(frozen=True)
class Stage:
    index: int
    line: int  # the FROM line (1-based)
    end_line: int
    image: str  # after substitution; a stage name when `base_stage` is set
    platform_flag: str | None  # `--platform=` after substitution
    base_stage: int | None
    run_lines: tuple[int, ...]
    name: str | None


def _from_parts(text: str) -> tuple[str | None, str, str | None]:
    """FROM's `--platform` value, image and stage name, as written."""
    words = text.split()[1:]
    platform: str | None = None
    while words and words[0].startswith("--"):
        flag, _, value = words.pop(0)[2:].partition("=")
        if flag.lower() == "platform":
            platform = value
    image = words[0] if words else ""
    name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
    return platform, image, name


def stages(instructions: Sequence[Instruction], values: Mapping[str, str]) -> list[Stage]:
    """Each stage's base (substituted with `values`: meta args and the platform args) and the
    lines of its RUN instructions."""
    found: list[Stage] = []
    names: dict[str, int] = {}
    pending: Stage | None = None
    runs: list[int] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            if pending is not None:
                found.append(replace(pending, run_lines=tuple(runs)))
            runs = []
            flag, image, name = _from_parts(ins.text)
            image = substitute(image, values)
            index = len(found)
            pending = Stage(
                index=index,
                line=ins.line,
                end_line=ins.end_line,
                image=image,
                platform_flag=substitute(flag, values) if flag is not None else None,
                base_stage=names.get(image.lower()),
                run_lines=(),
                name=name,
            )
            if name:
                names[name.lower()] = index
        elif ins.keyword == "RUN" and pending is not None:
            runs.append(ins.line)
    if pending is not None:
        found.append(replace(pending, run_lines=tuple(runs)))
    return found


@dataclass(frozen=True)
class StagePlatform:
    stage: Stage
    platform: Platform
    pin: bool  # the base image must be pinned to `platform`'s manifest (kaniko would not)


def stage_platforms(
    all_stages: Sequence[Stage], target: Platform, target_stage: str | None
) -> list[StagePlatform]:
    """The platform each stage that gets built runs on (stages after `target_stage` are not
    built). A stage follows its `--platform` when it parses, else the stage it is based on,
    else the target."""
    last = len(all_stages) - 1
    if target_stage:
        for stage in all_stages:
            if stage.name and stage.name.lower() == target_stage.lower():
                last = stage.index
    plan: list[StagePlatform] = []
    for stage in all_stages[: last + 1]:
        platform = target
        if stage.base_stage is not None:
            platform = plan[stage.base_stage].platform
        if stage.platform_flag:
            try:
                platform = parse_platform("platforms", stage.platform_flag)
            except InputError:
                platform = target
        pin = (
            platform != target
            and stage.base_stage is None
            and stage.image.lower() != "scratch"
            and bool(stage.image)
        )
        plan.append(StagePlatform(stage, platform, pin))
    return plan


def pulled_bases(
    plan: Sequence[StagePlatform], pinned: Mapping[int, str]
) -> list[tuple[str, Platform]]:
    """The base images kaniko pulls for the stages of `plan`, each once, with the platform
    it pulls them for (`pinned`: a stage's image replaced by its digest, by stage index)."""
    found: dict[tuple[str, Platform], None] = {}
    for item in plan:
        stage = item.stage
        if stage.base_stage is not None or not stage.image or stage.image.lower() == "scratch":
            continue
        found[(pinned.get(stage.index, stage.image), item.platform)] = None
    return list(found)


def foreign_runs(plan: Sequence[StagePlatform], host: Platform) -> list[StagePlatform]:
    """Stages with RUN steps whose binaries are not for the host's architecture."""
    return [p for p in plan if p.stage.run_lines and not runs_natively(host, p.platform)]


def pin_from_line(line: str, image: str, pinned: str) -> str | None:
    """The FROM line with its image replaced by `pinned` (`repo@sha256:...`); None when the
    image is not found as a word of the line. The rest of the line (flags, `AS name`, comments)
    is kept, so line numbers and stage names stay as they were."""
    match = re.match(r"^(\s*FROM\s+(?:--\S+\s+)*)(\S+)(.*)$", line, re.IGNORECASE | re.DOTALL)
    if match is None:
        return None
    written = match.group(2)
    if written != image and "$" not in written:
        return None
    return match.group(1) + pinned + match.group(3)
