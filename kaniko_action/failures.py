"""Turning kaniko's log into a statement of what failed."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# kaniko logs each Dockerfile instruction it executes, e.g. `INFO[0003] RUN make`.
_INSTRUCTION = re.compile(
    r"^(?:INFO|DEBU|TRAC)\[[^\]]*\]\s+"
    r"((?:RUN|COPY|ADD|WORKDIR|USER|ENV|ARG|LABEL|EXPOSE|VOLUME|ENTRYPOINT|CMD|SHELL|ONBUILD|"
    r"HEALTHCHECK|STOPSIGNAL|MAINTAINER)\b.*)$"
)
_ERROR = re.compile(r"^(?:ERRO|FATA)\[[^\]]*\]\s+(.*)$|^(?:error|Error)[: ](.*)$")


@dataclass
class LogWatcher:
    """Remembers the last instruction started and the last error lines of a kaniko log."""

    last_instruction: str | None = None
    errors: deque[str] = field(default_factory=lambda: deque(maxlen=5))
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=20))

    def feed(self, line: str) -> None:
        clean = _ANSI.sub("", line).strip()
        if not clean:
            return
        self.tail.append(clean)
        match = _INSTRUCTION.match(clean)
        if match:
            self.last_instruction = match.group(1)
            return
        err = _ERROR.match(clean)
        if err:
            self.errors.append(err.group(1) or err.group(2) or clean)

    def summary(self, status: int) -> str:
        reason = self.errors[-1] if self.errors else (self.tail[-1] if self.tail else "")
        where = (
            f"instruction `{self.last_instruction}` failed"
            if self.last_instruction
            else ("kaniko failed")
        )
        text = f"{where} (executor exit status {status})"
        return f"{text}: {reason}" if reason else text
