"""Locating the Dockerfile line of an instruction kaniko reports."""

from __future__ import annotations

import pytest

from kaniko_action.dockerfile.parser import locate, parse

SOURCE = """\
# syntax=docker/dockerfile:1
ARG BASE=debian
FROM $BASE AS builder
RUN apt-get update \\
  # a comment inside the continuation
  && apt-get install -y make
COPY . /src

from $BASE
run make \\
    all
RUN make all
COPY --from=builder /src/out /out
"""


def test_parse_lines_stages_and_continuations() -> None:
    ins = parse(SOURCE)
    assert [(i.keyword, i.line, i.end_line, i.stage) for i in ins] == [
        ("ARG", 2, 2, 0),
        ("FROM", 3, 3, 0),
        ("RUN", 4, 6, 0),
        ("COPY", 7, 7, 0),
        ("FROM", 9, 9, 1),
        ("RUN", 10, 11, 1),
        ("RUN", 12, 12, 1),
        ("COPY", 13, 13, 1),
    ]
    assert ins[2].text == "RUN apt-get update && apt-get install -y make"


@pytest.mark.parametrize(
    ("reported", "stage", "line"),
    [
        ("RUN apt-get update   && apt-get install -y make", 0, 4),
        ("RUN make all", 1, 10),  # first exact match in the stage
        ("COPY --from=builder /src/out /out", 1, 13),
        ("COPY . /src", None, 7),
        ("COPY /expanded/arg /src", 0, 7),  # only COPY of the stage
        ("RUN something else", None, None),  # several RUNs, none matching
    ],
)
def test_locate(reported: str, stage: int | None, line: int | None) -> None:
    found = locate(parse(SOURCE), reported, stage)
    assert (found.line if found else None) == line


def test_escape_directive() -> None:
    ins = parse("# escape=`\nFROM x\nRUN a `\n  b\n")
    assert ins[1].text == "RUN a b"
    assert (ins[1].line, ins[1].end_line) == (3, 4)
