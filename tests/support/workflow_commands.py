"""Which workflow commands the runner would obey in a step's output.

Modelled on actions/runner: output is split into lines at LF, CR or CRLF (.NET ReadLine); a
line that starts with `::name props::message` is a command; after `::stop-commands::TOKEN`
nothing is a command until a line `::TOKEN::`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_COMMAND = re.compile(r"^::([A-Za-z0-9_-]+)(?: ([^:]*))?::(.*)$")


def _unescape(value: str) -> str:
    return (
        value.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
    )


@dataclass
class Command:
    name: str
    message: str
    properties: dict[str, str] = field(default_factory=dict)


def runner_lines(output: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", output)


def obeyed_commands(output: str) -> list[Command]:
    obeyed: list[Command] = []
    resume: str | None = None
    for line in runner_lines(output):
        text = line.lstrip()
        if resume is not None:
            if text == f"::{resume}::":
                resume = None
            continue
        match = _COMMAND.match(text)
        if match is None:
            continue
        name, props, message = match.group(1), match.group(2) or "", match.group(3)
        if name == "stop-commands":
            resume = message
            continue
        properties = {}
        for pair in props.split(","):
            if "=" in pair:
                key, value = pair.split("=", 1)
                properties[key.strip()] = _unescape(value)
        obeyed.append(Command(name, _unescape(message), properties))
    return obeyed
