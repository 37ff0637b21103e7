"""The GitHub Actions runner protocol: outputs, annotations, masks, log groups, job summary.

Follows @actions/core: workflow commands on stdout with `%`, CR and LF escaped in data (and `:`
and `,` in properties); outputs and the summary through the runner's file commands, multi-line
values in `name<<DELIMITER` blocks with a random delimiter.

Outside a runner (GITHUB_ACTIONS is not `true`: the command line in a terminal) nobody reads
workflow commands: the same calls print plain lines instead (`error: ...`, `==> Build`), and
neither masks nor fences around the build's output.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from ..utils.fs import hand_back
from ..utils.users import WRITE, JobUser, job_user

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


def plain(
    name: str, message: str = "", properties: Mapping[str, object] | None = None
) -> str | None:
    """A workflow command as a line for a terminal; None for what only a runner acts on."""
    props = {k: v for k, v in (properties or {}).items() if v is not None}
    if name == "group":
        return f"==> {message}"
    if name in ("error", "warning", "notice"):
        title = f"{props['title']}: " if "title" in props else ""
        where = ""
        if "file" in props:
            line = f":{props['line']}" if "line" in props else ""
            where = f" ({props['file']}{line})"
        return f"{name}: {title}{message}{where}"
    return None  # add-mask, endgroup: nothing a terminal needs


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
        lines = self._untrusted
        self._untrusted = []
        body = "".join(f"{line}\n" for line in lines)
        if not self.in_actions:
            # No runner reads this output: nothing to fence off.
            self.out.write(body)
            self.out.flush()
            return
        token = _random_hex()
        self.out.write(f"::stop-commands::{token}\n{body}::{token}::\n")
        self.out.flush()

    def issue(self, name: str, message: str, **properties: object) -> None:
        if self.in_actions:
            self.echo(command(name, message, properties))
            return
        line = plain(name, message, properties)
        if line is None:
            self.flush_untrusted()
        else:
            self.echo(line)

    def error(self, message: str, **properties: object) -> None:
        self.issue("error", message, **properties)

    def warning(self, message: str, **properties: object) -> None:
        self.issue("warning", message, **properties)

    def notice(self, message: str, **properties: object) -> None:
        self.issue("notice", message, **properties)

    def mask(self, secret: str) -> None:
        for line in secret.splitlines() or [secret]:
            if line.strip() and line not in self._masked:
                self._masked.add(line)
                self.issue("add-mask", line)

    def phases(self) -> Phases:
        return Phases(self)

    def _open_file_command(self, variable: str, path: str) -> int | None:
        """The runner's file-command file `path`, opened for appending; None, with a warning,
        when it is not what the runner makes: a regular file of the job's user. Never
        through a symbolic link (O_NOFOLLOW), never blocking on a fifo (O_NONBLOCK)."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            try:
                fd = os.open(path, flags)
            except FileNotFoundError:
                # The runner creates these files; made here for a run outside it, by root
                # for the runner.
                fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644)
                hand_back(fd, Path(path).parent)
                return fd
        except OSError as e:
            why = "a symbolic link" if e.errno == errno.ELOOP else (e.strerror or str(e))
            self.warning(f"{variable} ({path}) is {why}: not written")
            return None
        refusal = _refusal(os.fstat(fd), job_user(self.env))
        if refusal:
            os.close(fd)
            self.warning(f"{variable} ({path}) is {refusal}: not written")
            return None
        return fd

    def _append(self, variable: str, text: str, limit: int | None = None) -> bool:
        path = self.env.get(variable)
        if not path:
            return False
        fd = self._open_file_command(variable, path)
        if fd is None:
            return True  # the runner's file, refused: nothing to print instead
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            data = text.encode("utf-8")
            if limit is None or os.fstat(fd).st_size + len(data) <= limit:
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
        self._append("GITHUB_STEP_SUMMARY", markdown, limit=SUMMARY_LIMIT)


def _refusal(st: os.stat_result, user: JobUser | None) -> str:
    """Why a file-command file is not one to write as root, or ""."""
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    # Root writes for the job's user only what that user could write itself (the runner's
    # own files, act's 0666 ones).
    if user is not None and not user.may(st, WRITE):
        return (
            f"not writable by the job's user (uid {user.uid}): owned by uid {st.st_uid}, "
            f"mode {stat.S_IMODE(st.st_mode):o}"
        )
    if os.geteuid() == 0 and st.st_nlink != 1:
        # A hard link to another file, root's own for one: the runner makes a file of its own.
        return f"a file with {st.st_nlink} links"
    return ""


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
