"""Just enough Dockerfile parsing to point at the line of an instruction kaniko reports."""

from __future__ import annotations

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
