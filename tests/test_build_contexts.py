"""build-contexts: parsing the input, rewriting the Dockerfile line for line, and staging a
local directory context (its own .dockerignore applied, links never followed)."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from kaniko_action.dockerfile.named import Rewrites, context_key, rewrite_dockerfile
from kaniko_action.errors import InputError
from kaniko_action.oci.platform import parse_platform
from kaniko_action.platforms.plan import plan
from kaniko_action.sandbox.layout import chroot_layout
from kaniko_action.spec.build_spec import build_spec
from kaniko_action.spec.contexts import NamedContext, parse_build_contexts
from kaniko_action.spec.gha import DIRECTORY_PREFIX
from kaniko_action.spec.inputs import DEFAULTS
from kaniko_action.spec.paths import BuildPaths
from kaniko_action.staging.context import read_staged
from kaniko_action.staging.named import (
    exceptions,
    rewrites,
    stage_named_contexts,
    staged_dir,
    write_named,
)


def test_parse_images_and_directories() -> None:
    parsed = parse_build_contexts(
        "alpine=docker-image://127.0.0.1:5000/base/alpine:3.20\n\n  src = ./src \nbase=deps\n"
    )
    assert parsed == (
        NamedContext("alpine", "alpine", "127.0.0.1:5000/base/alpine:3.20", None),
        NamedContext("src", "src", None, "./src"),
        NamedContext("base", "base", None, "deps"),
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x=oci-layout:///tmp/layout", r"'build-contexts'.*x=oci-layout.*docker-image://REF"),
        ("x=target:base", r"'build-contexts'.*bake"),
        ("x=https://example.invalid/a.tar", r"'build-contexts'.*download"),
        ("x=https://github.com/o/r.git#main", r"'build-contexts'.*git"),
        ("x=git@github.com:o/r", r"'build-contexts'.*actions/checkout"),
        ("x=input:other", r"'build-contexts'.*only docker-image"),
        ("noequals", r"'build-contexts'.*line 1.*name=VALUE"),
        ("x=", r"name=VALUE"),
        ("Upper=./d", r"not a context name"),
        ("a=./d\nA=./e", r"line 2: the context 'A'|not a context name"),
        ("alpine=./d\ndocker.io/library/alpine:latest=./e", r"line 2: .* given twice"),
        ("x=docker-image://Not Valid", r"'build-contexts'.*not a valid image reference"),
    ],
)
def test_parse_refusals(value: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_build_contexts(value)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("alpine", "alpine"),
        ("alpine:latest", "alpine"),
        ("docker.io/library/alpine", "alpine"),
        ("docker.io/org/app:latest", "org/app"),
        ("alpine:3.20", "alpine:3.20"),
        ("Build", "build"),
        ("r.example/app@sha256:ab", "r.example/app@sha256:ab"),
    ],
)
def test_context_key(name: str, key: str) -> None:
    assert context_key(name) == key


IMAGES = Rewrites(images={"alpine": "127.0.0.1:5000/pinned:1", "base": "reg/other:2"}, dirs={})
DIRS = Rewrites(images={}, dirs={"src": "../.build-contexts/0"})


@pytest.mark.parametrize(
    ("before", "after", "rewrites"),
    [
        # FROM an image context, with --platform and AS kept.
        ("FROM alpine\n", "FROM 127.0.0.1:5000/pinned:1\n", IMAGES),
        (
            "FROM --platform=$BUILDPLATFORM docker.io/library/alpine:latest AS b\n",
            "FROM --platform=$BUILDPLATFORM 127.0.0.1:5000/pinned:1 AS b\n",
            IMAGES,
        ),
        ("from Alpine as x\n", "from 127.0.0.1:5000/pinned:1 as x\n", IMAGES),
        ("FROM alpine:3.20\n", "FROM alpine:3.20\n", IMAGES),  # another tag: untouched
        # A stage named like a context: the context wins, as in BuildKit.
        (
            "FROM busybox AS base\nRUN x\nFROM base\nCOPY --from=base /a /b\n",
            "FROM busybox AS base\nRUN x\nFROM reg/other:2\nCOPY --from=reg/other:2 /a /b\n",
            IMAGES,
        ),
        ("FROM busybox AS build\nFROM build\n", "FROM busybox AS build\nFROM build\n", IMAGES),
        # COPY from a local directory: each source under the staged directory.
        (
            "FROM busybox\nCOPY --from=src a /b/c.txt ./dir/ /dst/\n",
            "FROM busybox\nCOPY --chown=0:0 ../.build-contexts/0/a ../.build-contexts/0/b/c.txt "
            "../.build-contexts/0/dir/ /dst/\n",
            DIRS,
        ),
        (
            "FROM busybox\nCOPY --chown=1:2 --from=src --chmod=644 . /app\n",
            "FROM busybox\nCOPY --chown=1:2 --chmod=644 ../.build-contexts/0 /app\n",
            DIRS,
        ),
        (
            "FROM busybox\nCOPY --from=src ../../etc/x /\n",
            "FROM busybox\nCOPY --chown=0:0 ../.build-contexts/0/etc/x /\n",
            DIRS,
        ),
        (
            'FROM busybox\nCOPY --from=src ["a b", "/d/"]\n',
            'FROM busybox\nCOPY --chown=0:0 ["../.build-contexts/0/a b", "/d/"]\n',
            DIRS,
        ),
        ("FROM busybox\nCOPY --from=other a /b\n", "FROM busybox\nCOPY --from=other a /b\n", DIRS),
        ("FROM busybox\nCOPY a /b\n", "FROM busybox\nCOPY a /b\n", DIRS),
    ],
)
def test_rewrite(before: str, after: str, rewrites: Rewrites) -> None:
    assert rewrite_dockerfile(before, rewrites) == after


def test_rewrite_keeps_line_numbers_of_continued_instructions() -> None:
    before = (
        "# syntax=docker/dockerfile:1\n"
        "FROM \\\n"
        "  alpine AS one\n"
        "COPY --from=src \\\n"
        "# a comment inside\n"
        "    a \\\n"
        "    /b\n"
        "RUN echo done\n"
    )
    both = Rewrites(images=IMAGES.images, dirs=DIRS.dirs)
    after = rewrite_dockerfile(before, both)
    lines = after.split("\n")
    assert len(lines) == len(before.split("\n"))
    assert lines[1] == "FROM 127.0.0.1:5000/pinned:1 AS one"
    assert lines[2] == ""
    assert lines[3] == "COPY --chown=0:0 ../.build-contexts/0/a /b"
    assert lines[4:7] == ["", "", ""]
    assert lines[7] == "RUN echo done"


@pytest.mark.parametrize(
    ("dockerfile", "message"),
    [
        ("FROM src\n", r"'build-contexts'.*line 1: FROM src .*local directory.*COPY --from=src"),
        ("FROM busybox\nCOPY --from=src *.txt /d/\n", r"line 2: .*wildcard"),
        ("FROM busybox\nCOPY --from=src $DIR /d/\n", r"line 2: .*variable"),
        (
            "FROM busybox\nRUN --mount=type=bind,from=src,target=/s ls /s\n",
            r"line 2: RUN --mount=from=src",
        ),
    ],
)
def test_rewrite_refusals(dockerfile: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        rewrite_dockerfile(dockerfile, DIRS)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "Dockerfile").write_text("FROM busybox\n")
    return workspace


def spec_for(ws: Path, value: str) -> list[tuple[NamedContext, Path | None]]:
    raw = dict(DEFAULTS)
    raw["build-contexts"] = value
    return list(build_spec(raw, str(ws)).build_contexts)


def test_spec_resolves_local_directories_inside_the_workspace(ws: Path, tmp_path: Path) -> None:
    (ws / "deps").mkdir()
    found = spec_for(ws, "deps=./deps\nalpine=docker-image://alpine:3")
    assert [(c.name, d) for c, d in found] == [("deps", ws / "deps"), ("alpine", None)]
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws / "link").symlink_to(outside)
    with pytest.raises(InputError, match=r"'build-contexts'.*outside the workspace"):
        spec_for(ws, "x=../outside")
    with pytest.raises(InputError, match=r"'build-contexts'.*through a symlink"):
        spec_for(ws, "x=link")
    with pytest.raises(InputError, match=r"'build-contexts'.*not a directory"):
        spec_for(ws, "x=Dockerfile")
    with pytest.raises(InputError, match=r"'build-contexts'.*does not exist"):
        spec_for(ws, "x=missing")


def test_staging_applies_the_directory_s_own_ignore_file_and_keeps_links(
    ws: Path, tmp_path: Path
) -> None:
    deps = ws / "deps"
    (deps / "sub").mkdir(parents=True)
    (deps / "kept.txt").write_text("kept")
    (deps / "secret.txt").write_text("excluded")
    (deps / "sub" / "x.log").write_text("excluded too")
    (deps / ".dockerignore").write_text("secret.txt\n**/*.log\n")
    runner_file = tmp_path / "runner-secret"
    runner_file.write_text("runner")
    (deps / "escape").symlink_to(runner_file)
    root = tmp_path / "root"
    root.mkdir()
    contexts = spec_for(ws, "deps=deps")
    stage_named_contexts(str(root), contexts)
    staged = Path(str(root) + str(staged_dir(0)))
    names = sorted(str(p.relative_to(staged)) for p in staged.rglob("*"))
    assert names == [".dockerignore", "escape", "kept.txt", "sub"]
    assert (staged / "kept.txt").read_text() == "kept"
    assert os.readlink(staged / "escape") == str(runner_file)  # a link, never its content


def test_the_workspace_as_a_named_context_holds_no_gha_cache_directory(
    ws: Path, tmp_path: Path
) -> None:
    (ws / "app.txt").write_text("app")
    (ws / (DIRECTORY_PREFIX + "0" * 16)).mkdir()
    (ws / (DIRECTORY_PREFIX + "0" * 16) / "kaniko-build-cache").write_text("")
    root = tmp_path / "root"
    root.mkdir()
    stage_named_contexts(str(root), spec_for(ws, "all=."), ws)
    staged = Path(str(root) + str(staged_dir(0)))
    assert sorted(os.listdir(staged)) == sorted(
        n for n in os.listdir(ws) if n != DIRECTORY_PREFIX + "0" * 16
    )


def test_ignore_file_of_a_named_context_must_be_a_regular_file(ws: Path, tmp_path: Path) -> None:
    deps = ws / "deps"
    deps.mkdir()
    (deps / ".dockerignore").symlink_to(tmp_path)
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(InputError, match=r"'build-contexts'.*deps/.dockerignore is not a regular"):
        stage_named_contexts(str(root), spec_for(ws, "deps=deps"))


def test_write_named_rewrites_the_chroot_copy_and_amends_the_ignore_rules(
    ws: Path, tmp_path: Path
) -> None:
    (ws / "deps").mkdir()
    (ws / ".dockerignore").write_text("*\n!Dockerfile")
    text = "FROM alpine\nCOPY --from=deps a /a\n"
    (ws / "Dockerfile").write_text(text)
    paths = BuildPaths(workspace=ws, context=ws, dockerfile=ws / "Dockerfile")
    layout = chroot_layout(paths)
    root = tmp_path / "root"
    for name in ("Dockerfile", ".dockerignore"):
        inside = Path(str(root) + str(layout.context_dir / name))
        inside.parent.mkdir(parents=True, exist_ok=True)
        inside.write_bytes((ws / name).read_bytes())
    contexts = spec_for(ws, "deps=deps\nalpine=docker-image://127.0.0.1:5000/ab:1")
    assert rewrites(contexts, layout).dirs == {"deps": "../.build-contexts/0"}
    named = write_named(str(root), layout, contexts)
    assert named.dockerfile == PurePosixPath("/.kaniko-build/named/Dockerfile")
    assert read_staged(str(root), named.dockerfile) == (
        b"FROM 127.0.0.1:5000/ab:1\nCOPY --chown=0:0 ../.build-contexts/0/a /a\n"
    )
    ignore = read_staged(str(root), PurePosixPath("/.kaniko-build/named/Dockerfile.dockerignore"))
    assert ignore == b"*\n!Dockerfile" + exceptions(layout)
    assert b"!../.build-contexts/**" in ignore
    assert (ws / "Dockerfile").read_text() == text  # the user's file is untouched


def test_platform_pins_see_the_rewritten_dockerfile(ws: Path) -> None:
    (ws / "Dockerfile").write_text("FROM --platform=linux/arm64 alpine AS b\nFROM alpine\n")
    raw = dict(DEFAULTS)
    raw["build-contexts"] = "alpine=docker-image://127.0.0.1:5000/base/alpine:3"
    spec = build_spec(raw, str(ws))
    images = {c.key: c.image for c, _ in spec.build_contexts if c.image}
    text = rewrite_dockerfile((ws / "Dockerfile").read_text(), Rewrites(images, {}))
    amd64 = parse_platform("platform", "linux/amd64")
    stages = plan(spec, amd64, amd64, text)
    assert [(s.stage.image, s.pin) for s in stages] == [
        ("127.0.0.1:5000/base/alpine:3", True),
        ("127.0.0.1:5000/base/alpine:3", False),
    ]
