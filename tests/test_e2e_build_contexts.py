"""End to end: build-contexts with the real executors. An image context replaces a base
image and a stage of the same name; a local directory context is read by COPY --from with
its own .dockerignore applied, its links kept as links (never followed on the runner), the
main context's ignore rules unable to hide it and `COPY .` of the main context never taking
it along."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support.action import ActionHarness
from .support.registry import Registry
from .test_e2e_build import assert_clean, assert_pushed

pytestmark = pytest.mark.e2e


def test_image_context_replaces_a_base_image_and_a_stage(
    harness: ActionHarness, registry: Registry, busybox_image: str
) -> None:
    harness.write(
        "Dockerfile",
        "FROM no-such-base AS tools\n"
        "RUN echo tools > /tools.txt\n"
        "FROM --platform=$TARGETPLATFORM no-such-base:latest AS base\n"
        "RUN echo overridden > /stage.txt\n"
        "FROM base\n"
        "COPY --from=tools /tools.txt /t.txt\n",
    )
    run = harness.run(
        tags=f"{registry.host}/e2e/ctx-image:1",
        push="true",
        build_contexts=f"no-such-base=docker-image://{busybox_image}\n"
        f"base=docker-image://{busybox_image}",
        insecure_registries=registry.host,
    )
    files = assert_pushed(registry, run, "e2e/ctx-image", "1")
    assert files["t.txt"].text == "tools\n"
    assert files["bin/busybox"].type == "file"
    # `FROM base` is the context, not the stage named base (as in BuildKit).
    assert "stage.txt" not in files
    assert_clean(run)


def test_local_directory_context_read_by_copy_from(
    harness: ActionHarness, registry: Registry, busybox_image: str, tmp_path: Path
) -> None:
    outside = tmp_path / "runner-secret.txt"
    outside.write_text("RUNNER SECRET\n")
    harness.write(
        "Dockerfile",
        f"FROM {busybox_image}\n"
        "USER 1000\n"
        "COPY --from=deps . /ctx/\n"
        "COPY --from=deps keep.txt /sub/x.txt /one/\n"
        "COPY . /main/\n",
    )
    harness.write("main.txt", "main\n")
    harness.write(".dockerignore", "*\n!Dockerfile\n!main.txt\n")
    harness.write("deps/keep.txt", "kept\n")
    harness.write("deps/secret.txt", "excluded by deps/.dockerignore\n")
    harness.write("deps/sub/x.txt", "sub\n")
    harness.write("deps/.dockerignore", "secret.txt\n")
    (harness.workspace / "deps" / "escape").symlink_to(outside)
    run = harness.run(
        tags=f"{registry.host}/e2e/ctx-dir:1",
        push="true",
        build_contexts="deps=./deps",
        insecure_registries=registry.host,
    )
    files = assert_pushed(registry, run, "e2e/ctx-dir", "1")
    assert files["ctx/keep.txt"].text == "kept\n"
    assert files["ctx/keep.txt"].uid == 0  # root-owned whatever USER says, as in BuildKit
    assert files["ctx/sub/x.txt"].text == "sub\n"
    assert "ctx/secret.txt" not in files
    assert files["ctx/escape"].type == "symlink"
    assert files["ctx/escape"].linkname == str(outside)
    assert files["one/keep.txt"].text == "kept\n"
    assert files["one/x.txt"].text == "sub\n"
    assert sorted(p for p in files if p.startswith("main/")) == ["main/Dockerfile", "main/main.txt"]
    assert not [p for p, f in files.items() if f.content and b"RUNNER SECRET" in f.content]
    assert_clean(run)


def test_from_a_local_directory_context_is_refused(
    harness: ActionHarness, busybox_image: str
) -> None:
    harness.write("Dockerfile", "FROM deps\n")
    harness.write("deps/a.txt", "a\n")
    run = harness.run(build_contexts="deps=deps", push="false")
    assert run.returncode != 0
    assert "build-contexts" in run.stdout and "FROM deps" in run.stdout
    assert_clean(run)
