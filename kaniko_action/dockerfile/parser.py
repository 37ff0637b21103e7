"""Just enough Dockerfile parsing to point at the line of an instruction kaniko reports, and
to find what ADD reads from the context."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    text: str  # whitespace-collapsed, continuations joined
    line: int  # 1-based line of the instruction's first line
    end_line: int
    stage: int


def collapse(text: str) -> str:
    return " ".join(text.split())


def _escape_char(lines: list[str]) -> str:
    for line in lines:
        match = _DIRECTIVE.match(line.strip())
        if match is None:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("\\", "`"):
            return match.group(2)
    return "\\"


def parse(source: str) -> list[Instruction]:
    lines = source.splitlines()
    escape = _escape_char(lines)
    instructions: list[Instruction] = []
    stage = -1
    i = 0
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        parts: list[str] = []
        current = raw.rstrip()
        while current.endswith(escape) and i + 1 < len(lines):
            parts.append(current[: -len(escape)])
            i += 1
            # Comment lines inside a continued instruction are dropped, as BuildKit does.
            while i + 1 < len(lines) and lines[i].strip().startswith("#"):
                i += 1
            current = lines[i].rstrip()
        parts.append(current)
        text = collapse(" ".join(parts))
        keyword = text.split(" ", 1)[0].upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, text, start + 1, i + 1, max(stage, 0)))
        i += 1
    return instructions


def locate(instructions: list[Instruction], reported: str, stage: int | None) -> Instruction | None:
    """The instruction kaniko reported (`RUN make all`), preferring the given stage."""
    wanted = collapse(reported)
    keyword = wanted.split(" ", 1)[0].upper()
    wanted_norm = f"{keyword}{wanted[len(keyword) :]}"

    def candidates(exact: bool) -> list[Instruction]:
        found = []
        for ins in instructions:
            norm = f"{ins.keyword}{ins.text[len(ins.keyword) :]}"
            if (exact and norm == wanted_norm) or (not exact and ins.keyword == keyword):
                found.append(ins)
        return found

    for exact in (True, False):
        found = candidates(exact)
        if stage is not None:
            in_stage = [ins for ins in found if ins.stage == stage]
            found = in_stage or (found if exact else [])
        if len(found) == 1 or (exact and found):
            return found[0]
    return None


_REMOTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]")
# Characters whose meaning kaniko works out during the build: variables, quoting, wildcards.
_UNKNOWABLE = re.compile(r"[$'\"\\*?\[]")


@dataclass(frozen=True)
class ContextSources:
    """What COPY and ADD name in the build context, as far as it is known before the build."""

    unpacked: tuple[str, ...]  # ADD sources: kaniko unpacks a local archive even if ignored
    named: tuple[str, ...]  # COPY sources named literally: they must resolve as they would
    add_unknown: bool  # some ADD source is only known during the build


def _arguments(ins: Instruction) -> list[str] | None:
    """The words after the flags of a COPY or ADD; None if they cannot be read exactly."""
    words = ins.text.split(" ")[1:]
    while words and words[0].startswith("--"):
        words = words[1:]
    rest = " ".join(words)
    if not rest.startswith("["):
        return words
    try:
        parsed = json.loads(rest)
    except ValueError:
        return None
    if not isinstance(parsed, list) or not all(isinstance(w, str) for w in parsed):
        return None
    if any(not w or w != " ".join(w.split()) for w in parsed):
        return None  # whitespace the collapsed text no longer holds exactly
    return parsed


def context_sources(instructions: list[Instruction]) -> ContextSources:
    """The context paths COPY and ADD name. ONBUILD triggers of a base image are not seen."""
    unpacked: list[str] = []
    named: list[str] = []
    add_unknown = False
    for ins in instructions:
        if ins.keyword not in ("ADD", "COPY") or (
            ins.keyword == "COPY" and re.search(r"(^| )--from=", ins.text)
        ):
            continue
        words = _arguments(ins)
        if words is None:
            add_unknown = add_unknown or ins.keyword == "ADD"
            continue
        for source in words[:-1]:
            if source.startswith("<<") or _REMOTE.match(source):
                continue  # a here-document or a URL: nothing from the context
            if _UNKNOWABLE.search(source):
                add_unknown = add_unknown or ins.keyword == "ADD"
                continue
            (unpacked if ins.keyword == "ADD" else named).append(source)
    return ContextSources(tuple(unpacked), tuple(named), add_unknown)
