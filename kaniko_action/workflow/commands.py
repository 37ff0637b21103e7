"""The GitHub Actions runner protocol: outputs, annotations, masks, log groups, job summary.

Follows @actions/core: workflow commands on stdout with `%`, CR and LF escaped in data (and `:`
and `,` in properties); outputs and the summary through the runner's file commands, multi-line
values in `name<<DELIMITER` blocks with a random delimiter.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from ..utils.fs import hand_back

SUMMARY_LIMIT = 1024 * 1024


def _random_hex() -> str:
    """128 random bits (os.urandom: the secrets and uuid modules cost milliseconds to load)."""
    return os.urandom(16).hex()


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str = "", properties: Mapping[str, object] | None = None) -> str:
    props = ",".join(
        f"{k}={escape_property(str(v))}" for k, v in (properties or {}).items() if v is not None
    )
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


class Workflow:
    """Talks to the runner through stdout and the file commands named in the environment."""

    def __init__(self, env: Mapping[str, str], out: TextIO | None = None) -> None:
        self.env = env
        self.out = out or sys.stdout
        self.in_actions = env.get("GITHUB_ACTIONS") == "true"
        self._masked: set[str] = set()
        self._untrusted: list[str] = []

    def echo(self, line: str) -> None:
        self.flush_untrusted()
        self.out.write(line + "\n")
        self.out.flush()

    def untrusted(self, line: str) -> None:
        """Queue a line of build output: shown by the next flush, never read as a command."""
        self._untrusted.append(line)

    def flush_untrusted(self) -> None:
        """Show queued build output between `::stop-commands::TOKEN` and `::TOKEN::`.

        kaniko prints what RUN steps print; a Dockerfile could print `::add-mask::`,
        `::error::` or `::stop-commands::` and the runner would obey. Inside the pair it
        obeys nothing. The token is new each time and unknown to the build; the pair closes
        with every batch, so the action's own commands, and later steps', keep working even
        if the action is killed.
        """
        if not self._untrusted:
            return
        token = _random_hex()
        lines = self._untrusted
        self._untrusted = []
        body = "".join(f"{line}\n" for line in lines)
        self.out.write(f"::stop-commands::{token}\n{body}::{token}::\n")
        self.out.flush()

    def issue(self, name: str, message: str, **properties: object) -> None:
        self.echo(command(name, message, properties))

    def error(self, message: str, **properties: object) -> None:
        self.issue("error", message, **properties)

    def warning(self, message: str, **properties: object) -> None:
        self.issue("warning", message, **properties)

    def mask(self, secret: str) -> None:
        for line in secret.splitlines() or [secret]:
            if line.strip() and line not in self._masked:
                self._masked.add(line)
                self.issue("add-mask", line)

    def phases(self) -> Phases:
        return Phases(self)

    def _append(self, variable: str, text: str) -> bool:
        path = self.env.get(variable)
        if not path:
            return False
        existed = os.path.lexists(path)
        with open(path, "a", encoding="utf-8") as f:
            if not existed:
                # Made by root for the runner (which normally creates these files itself).
                hand_back(f.fileno(), Path(path).parent)
            f.write(text)
        return True

    def set_output(self, name: str, value: str) -> None:
        delimiter = f"ghadelimiter_{_random_hex()}"
        while delimiter in value:
            delimiter = f"ghadelimiter_{_random_hex()}"
        block = f"{name}<<{delimiter}{os.linesep}{value}{os.linesep}{delimiter}{os.linesep}"
        if not self._append("GITHUB_OUTPUT", block) and not self.in_actions:
            self.echo(f"{name}={value}")

    def summary(self, markdown: str) -> None:
        path = self.env.get("GITHUB_STEP_SUMMARY")
        if not path:
            return
        existing = os.path.getsize(path) if os.path.exists(path) else 0
        data = markdown.encode("utf-8")
        if existing + len(data) > SUMMARY_LIMIT:
            return
        self._append("GITHUB_STEP_SUMMARY", markdown)


class Phases:
    """Consecutive log groups, one per phase, each closed with its duration."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.durations: dict[str, float] = {}
        self._current: str | None = None
        self._started = 0.0

    def start(self, title: str) -> None:
        self.end()
        self._current = title
        self._started = time.monotonic()
        self.workflow.issue("group", title)

    def end(self) -> None:
        if self._current is None:
            return
        elapsed = time.monotonic() - self._started
        self.durations[self._current] = self.durations.get(self._current, 0.0) + elapsed
        self.workflow.echo(f"{self._current}: {elapsed:.1f}s")
        self.workflow.issue("endgroup", "")
        self._current = None
