"""Reading kaniko's log: instructions, stages, base images, cache, push, errors."""

from __future__ import annotations

import pytest

from kaniko_action.executor.diagnosis import missing_proc_path
from kaniko_action.executor.log import LogWatcher

LOG = """\
\x1b[33mWARN\x1b[0m[0000] Kaniko is being run outside of a container.
\x1b[36mINFO\x1b[0m[0000] Retrieving image manifest reg:5000/base/busybox:latest
\x1b[36mINFO\x1b[0m[0000] Retrieving image manifest reg:5000/base/busybox:latest
\x1b[36mINFO\x1b[0m[0000] Building stage 'reg:5000/base/busybox:latest' [idx: '0', base-idx: '-1']
\x1b[36mINFO\x1b[0m[0000] Using caching version of cmd: RUN echo one
\x1b[36mINFO\x1b[0m[0000] No cached layer found for cmd RUN echo two
\x1b[36mINFO\x1b[0m[0000] Retrieving image manifest reg:5000/base/debian:bookworm
\x1b[36mINFO\x1b[0m[0001] Building stage 'reg:5000/base/debian:bookworm' [idx: '1', base-idx: '-1']
\x1b[36mINFO\x1b[0m[0001] RUN make all
\x1b[36mINFO\x1b[0m[0001] Pushing image to reg:5000/app/cache:0123abcd
\x1b[36mINFO\x1b[0m[0001] Running: [/bin/sh -c make all]
error building image: error building stage: failed to execute command: waiting for process to exit: exit status 2
"""


def watch(text: str, **kwargs: object) -> LogWatcher:
    watcher = LogWatcher(**kwargs)  # type: ignore[arg-type]
    for line in text.splitlines():
        watcher.feed(line)
    return watcher


def test_failure_names_instruction_stage_and_reason() -> None:
    pushes: list[str] = []
    w = watch(
        LOG,
        on_push=lambda: pushes.append("push"),
        is_destination=lambda ref: ref == "reg:5000/app:1",
    )
    assert w.last_instruction == "RUN make all"
    assert w.stage == 1
    assert w.base_images == ["reg:5000/base/busybox:latest", "reg:5000/base/debian:bookworm"]
    assert (w.cache_hits, w.cache_misses) == (["RUN echo one"], ["RUN echo two"])
    # A cache-layer push is not the image push.
    assert pushes == []
    assert not w.pushing
    assert w.summary(1) == (
        "instruction `RUN make all` failed (executor exit status 1): building image: error "
        "building stage: failed to execute command: waiting for process to exit: exit status 2"
    )


def test_push_failure() -> None:
    pushes: list[str] = []
    w = watch(
        "INFO[0001] Pushing image to reg:5000/app:1\n"
        "error pushing image: failed to push to destination reg:5000/app:1: UNAUTHORIZED\n",
        on_push=lambda: pushes.append("push"),
    )
    assert pushes == ["push"]
    assert w.summary(1).startswith("pushing the image failed (executor exit status 1): pushing")


def test_failure_before_any_instruction_uses_last_line() -> None:
    w = watch("Error: unknown flag: --nope\n")
    assert w.summary(1) == "kaniko failed (executor exit status 1): unknown flag: --nope"
    assert watch("").summary(2) == "kaniko failed (executor exit status 2)"


ADVICE = "RUN steps on this runner have no /proc (the runner has no CAP_SYS_ADMIN)"
FAILED_RUN = """\
INFO[0000] RUN cat /proc/self/cgroup
INFO[0000] Running: [/bin/sh -c cat /proc/self/cgroup]
cat: can't open '/proc/self/cgroup': No such file or directory
error building image: error building stage: failed to execute command: waiting for process to exit: exit status 1
"""


def test_a_run_step_failing_on_a_missing_proc_path_gets_the_advice() -> None:
    w = watch(FAILED_RUN)
    message = str(w.failure(1, None, ADVICE))
    assert message.startswith(
        "instruction `RUN cat /proc/self/cgroup` failed: `/proc/self/cgroup` is missing: " + ADVICE
    )
    # Where RUN steps have a /proc (no advice given), the message is as before.
    assert str(w.failure(1, None)) == w.summary(1)


@pytest.mark.parametrize(
    ("line", "path"),
    [
        ("mount: no /proc/mounts", "/proc/mounts"),
        ("bash: /dev/fd/63: No such file or directory", "/dev/fd/63"),
        (
            "FileNotFoundError: [Errno 2] No such file or directory: '/proc/self/status'",
            "/proc/self/status",
        ),
        ("open /proc/self/exe: no such file or directory", "/proc/self/exe"),
        ("ps: can't open '/proc': No such file or directory", "/proc"),
    ],
)
def test_missing_proc_paths_are_found_in_what_tools_say(line: str, path: str) -> None:
    assert missing_proc_path(["something else", line]) == path


@pytest.mark.parametrize(
    "lines",
    [
        ["cat: can't open '/etc/missing': No such file or directory"],
        ["reading /proc/cpuinfo", "make: *** [all] Error 2"],
    ],
)
def test_other_failures_get_no_proc_advice(lines: list[str]) -> None:
    assert missing_proc_path(lines) is None
    w = watch("INFO[0000] RUN make\n" + "\n".join(lines) + "\n")
    assert "no /proc" not in str(w.failure(2, None, ADVICE))


def test_only_what_the_failing_step_printed_counts() -> None:
    w = watch(
        "INFO[0000] RUN cat /proc/version || true\n"
        "cat: can't open '/proc/version': No such file or directory\n"
        "INFO[0001] RUN false\n"
    )
    assert "no /proc" not in str(w.failure(1, None, ADVICE))
