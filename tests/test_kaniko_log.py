"""Reading kaniko's log: instructions, stages, base images, cache, push, errors."""

from __future__ import annotations

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
