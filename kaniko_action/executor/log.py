"""Reading kaniko's log as it streams: phases, stages, base images, cache use, failures."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import BuildFailed
from .diagnosis import explain, missing_proc_path

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PREFIX = r"^(?:INFO|DEBU|TRAC|WARN)\[[^\]]*\]\s+"
# kaniko logs each Dockerfile instruction it executes, e.g. `INFO[0003] RUN make`.
_INSTRUCTION = re.compile(
    _PREFIX + r"((?:RUN|COPY|ADD|WORKDIR|USER|ENV|ARG|LABEL|EXPOSE|VOLUME|ENTRYPOINT|CMD|SHELL|"
    r"ONBUILD|HEALTHCHECK|STOPSIGNAL|MAINTAINER)\b.*)$"
)
_STAGE = re.compile(_PREFIX + r"Building stage '(.*)' \[idx: '(\d+)'")
_BASE = re.compile(_PREFIX + r"Retrieving image manifest (\S+)")
_CACHE_HIT = re.compile(_PREFIX + r"Using caching version of cmd: (.*)$")
_CACHE_MISS = re.compile(_PREFIX + r"No cached layer found for cmd (.*)$")
_PUSHING = re.compile(_PREFIX + r"Pushing image to (\S+)")
# The keys of a local layer cache (--cache-repo=oci:...) kaniko looked up or wrote.
_CACHE_KEY = re.compile(
    _PREFIX + r"(?:Checking for cached layer|Pushing layer) oci:\S*?:([0-9a-f]{64})\b"
)
# A base image kaniko read from its --cache-dir (pkg/cache LocalSource).
_BASE_CACHED = re.compile(_PREFIX + r"Found (sha256:[0-9a-f]{64}) in local cache")
_ERROR = re.compile(r"^(?:ERRO|FATA)\[[^\]]*\]\s+(.*)$|^(?:error|Error)[: ](.*)$")


@dataclass(frozen=True)
class LogFacts:
    """What kaniko's log told about a finished (or failed) build."""

    base_images: tuple[str, ...] = ()
    cache_hits: int = 0
    cache_misses: int = 0
    # Keys of a local layer cache the build looked up or made (what a cache-to keeps).
    cache_keys: frozenset[str] = frozenset()
    # Base images kaniko found in its base-image cache (what a cache-to keeps of them).
    cached_bases: frozenset[str] = frozenset()


@dataclass
class LogWatcher:
    """Remembers what a kaniko log said; `on_push` fires when pushing the image starts.

    `is_destination` tells a push of the image from kaniko's pushes of cache layers, which it
    logs the same way.
    """

    on_push: Callable[[], None] = lambda: None
    is_destination: Callable[[str], bool] = lambda _ref: True
    last_instruction: str | None = None
    stage: int | None = None
    base_images: list[str] = field(default_factory=list)
    cache_hits: list[str] = field(default_factory=list)
    cache_misses: list[str] = field(default_factory=list)
    cache_keys: set[str] = field(default_factory=set)
    cached_bases: set[str] = field(default_factory=set)
    pushing: bool = False
    errors: deque[str] = field(default_factory=lambda: deque(maxlen=5))
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    # What the instruction running now (a RUN step) printed last.
    step_output: deque[str] = field(default_factory=lambda: deque(maxlen=50))

    def feed(self, line: str) -> None:
        clean = _ANSI.sub("", line).strip()
        if not clean:
            return
        self.tail.append(clean)
        if match := _INSTRUCTION.match(clean):
            self.last_instruction = match.group(1).strip()
            self.step_output.clear()
            return
        self.step_output.append(clean)
        if match := _CACHE_KEY.match(clean):
            self.cache_keys.add(match.group(1))
        elif match := _BASE_CACHED.match(clean):
            self.cached_bases.add(match.group(1))
        if match := _STAGE.match(clean):
            self.stage = int(match.group(2))
            self.last_instruction = None
        elif match := _BASE.match(clean):
            if match.group(1) not in self.base_images:
                self.base_images.append(match.group(1))
        elif match := _CACHE_HIT.match(clean):
            self.cache_hits.append(match.group(1).strip())
        elif match := _CACHE_MISS.match(clean):
            self.cache_misses.append(match.group(1).strip())
        elif (match := _PUSHING.match(clean)) and self.is_destination(match.group(1)):
            if not self.pushing:
                self.pushing = True
                self.on_push()
        elif match := _ERROR.match(clean):
            self.errors.append((match.group(1) or match.group(2) or clean).strip())

    @property
    def reason(self) -> str:
        return self.errors[-1] if self.errors else (self.tail[-1] if self.tail else "")

    def facts(self) -> LogFacts:
        """What the log said about the build, for the report."""
        return LogFacts(
            tuple(self.base_images),
            len(self.cache_hits),
            len(self.cache_misses),
            frozenset(self.cache_keys),
            frozenset(self.cached_bases),
        )

    def summary(self, status: int, explanation: str | None = None) -> str:
        """One sentence: where the build failed, why (`explanation`, when known), and the
        executor's own last words."""
        if self.pushing:
            where = "pushing the image failed"
        elif self.last_instruction:
            where = f"instruction `{self.last_instruction}` failed"
        else:
            where = "kaniko failed"
        if explanation:
            return f"{where}: {explanation} (executor exit status {status}: {self.reason})"
        text = f"{where} (executor exit status {status})"
        return f"{text}: {self.reason}" if self.reason else text

    def failure(
        self, status: int, registry: str | None, no_proc_advice: str | None = None
    ) -> BuildFailed:
        """The error for an executor that exited with `status`; `registry` is the one a
        failed push went to (named when kaniko's message does not say). `no_proc_advice`:
        what to tell when a RUN step failed on a missing /proc path (RUN steps here have
        none)."""
        explanation = explain("\n".join(self.errors), registry if self.pushing else None)
        if explanation is None and no_proc_advice and not self.pushing:
            missing = missing_proc_path(self.step_output)
            if missing is not None:
                explanation = f"`{missing}` is missing: {no_proc_advice}"
        return BuildFailed(
            self.summary(status, explanation),
            instruction=self.last_instruction,
            stage=self.stage,
            pushing=self.pushing,
        )
