"""Platforms, the Dockerfile's stages per platform, binfmt_misc handlers, image indexes. Pure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaniko_action.dockerfile.parser import parse
from kaniko_action.errors import InputError
from kaniko_action.oci.index import PlatformImage, assemble_index, platform_metadata
from kaniko_action.oci.media import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    sha256_digest,
)
from kaniko_action.oci.platform import Platform, host_platform, parse_platform, parse_platforms
from kaniko_action.platforms.binfmt import elf_header, handlers_for, parse_handler
from kaniko_action.platforms.emulation import emulation_problem
from kaniko_action.platforms.stages import (
    StagePlatform,
    foreign_runs,
    meta_args,
    pin_from_line,
    predefined_args,
    stage_platforms,
    stages,
    substitute,
)

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("linux/amd64", "linux/amd64"),
        ("linux/arm64", "linux/arm64"),
        ("linux/arm64/v8", "linux/arm64"),
        ("linux/aarch64", "linux/arm64"),
        ("linux/x86_64", "linux/amd64"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/arm/v6", "linux/arm/v6"),
        ("linux/armhf", "linux/arm/v7"),
        ("Linux/S390X", "linux/s390x"),
        ("linux/386", "linux/386"),
        ("windows/amd64", "windows/amd64"),
    ],
)
def test_parse_platform_normalises(value: str, expected: str) -> None:
    assert str(parse_platform("platforms", value)) == expected


@pytest.mark.parametrize("value", ["arm64", "linux", "linux/", "linux/arm64/v8/x", "linux/a b", ""])
def test_parse_platform_refuses(value: str) -> None:
    with pytest.raises(InputError, match=r"input 'platforms': .* is not os/arch\[/variant\]"):
        parse_platform("platforms", value)


def test_parse_platforms_refuses_duplicates_after_normalising() -> None:
    with pytest.raises(InputError, match=r"'linux/aarch64' is given twice"):
        parse_platforms("platforms", ["linux/arm64", "linux/aarch64"])


@pytest.mark.parametrize(
    ("machine", "platform"),
    [("x86_64", "linux/amd64"), ("aarch64", "linux/arm64"), ("armv7l", "linux/arm/v7"),
     ("s390x", "linux/s390x"), ("i686", "linux/386")],
)  # fmt: skip
def test_host_platform(machine: str, platform: str) -> None:
    assert str(host_platform(machine)) == platform


def test_index_entries_match_with_or_without_variant() -> None:
    assert ARM64.matches({"os": "linux", "architecture": "arm64", "variant": "v8"})
    assert ARM64.matches({"os": "linux", "architecture": "arm64"})
    assert not ARM64.matches({"os": "linux", "architecture": "amd64"})
    v7 = Platform("linux", "arm", "v7")
    assert not v7.matches({"os": "linux", "architecture": "arm", "variant": "v6"})
    assert v7.matches({"os": "linux", "architecture": "arm"})


def test_predefined_args() -> None:
    assert predefined_args(AMD64, Platform("linux", "arm", "v7")) == {
        "BUILDPLATFORM": "linux/amd64",
        "BUILDOS": "linux",
        "BUILDARCH": "amd64",
        "BUILDVARIANT": "",
        "TARGETPLATFORM": "linux/arm/v7",
        "TARGETOS": "linux",
        "TARGETARCH": "arm",
        "TARGETVARIANT": "v7",
    }


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("$BUILDPLATFORM", {"BUILDPLATFORM": "linux/amd64"}, "linux/amd64"),
        ("${BUILDPLATFORM}", {"BUILDPLATFORM": "linux/amd64"}, "linux/amd64"),
        ("golang:${GO:-1.22}", {}, "golang:1.22"),
        ("golang:${GO:-1.22}", {"GO": "1.23"}, "golang:1.23"),
        ("golang:${GO-1.22}", {"GO": ""}, "golang:"),
        ("x${FLAG:+-debug}", {"FLAG": "1"}, "x-debug"),
        ("x${FLAG:+-debug}", {}, "x"),
        ("$UNDECLARED/app", {}, "/app"),
        ("\\$NOT", {"NOT": "x"}, "$NOT"),
        ("reg/$A:$B", {"A": "app", "B": "1"}, "reg/app:1"),
    ],
)
def test_substitute(text: str, values: dict[str, str], expected: str) -> None:
    assert substitute(text, values) == expected


def test_meta_args_take_build_args_for_declared_names_only() -> None:
    instructions = parse(
        'ARG BASE=busybox\nARG TAG="1.36"\nARG UNSET\nARG A=1 B=$A\nFROM $BASE:$TAG\nARG LATE=x\n'
    )
    values = meta_args(instructions, {"TAG": "1.37", "OTHER": "o"})
    assert values == {"BASE": "busybox", "TAG": "1.37", "A": "1", "B": "1"}


CROSS = """\
ARG GO=1.22
FROM --platform=$BUILDPLATFORM golang:${GO} AS build
ARG TARGETARCH
RUN GOARCH=$TARGETARCH go build -o /app .
FROM build AS test
RUN go test ./...
FROM gcr.io/distroless/static
COPY --from=build /app /app
"""


def plan_of(
    text: str, target: Platform, host: Platform = AMD64, stage: str | None = None
) -> list[StagePlatform]:
    instructions = parse(text)
    values = {**meta_args(instructions, {}), **predefined_args(host, target)}
    return stage_platforms(stages(instructions, values), target, stage)


def test_cross_compiling_stages_run_on_the_build_platform() -> None:
    plan = plan_of(CROSS, ARM64)
    assert [(p.stage.index, str(p.platform), p.pin) for p in plan] == [
        (0, "linux/amd64", True),  # pinned: kaniko would pull golang for arm64
        (1, "linux/amd64", False),  # based on stage 0: follows it, nothing to pin
        (2, "linux/arm64", False),
    ]
    assert plan[0].stage.image == "golang:1.22"
    assert plan[0].stage.name == "build" and plan[1].stage.base_stage == 0
    assert foreign_runs(plan, AMD64) == []


def test_native_target_pins_nothing() -> None:
    assert not any(p.pin for p in plan_of(CROSS, AMD64))


@pytest.mark.parametrize(
    ("dockerfile", "target", "foreign"),
    [
        ("FROM busybox\nRUN true\n", ARM64, [(0, 2)]),
        ("FROM busybox\nCOPY a /a\n", ARM64, []),
        ("FROM busybox\nRUN true\n", AMD64, []),
        # amd64 runners run 386 binaries themselves.
        ("FROM busybox\nRUN true\n", Platform("linux", "386"), []),
        ("FROM --platform=$TARGETPLATFORM busybox\nRUN true\n", ARM64, [(0, 2)]),
        ("FROM --platform=linux/amd64 busybox\nRUN true\n", ARM64, []),
        ("FROM --platform=linux/s390x busybox\nRUN true\n", AMD64, [(0, 2)]),
        ("FROM scratch AS a\nFROM a\nRUN true\n", ARM64, [(1, 3)]),
        # An unparsable --platform falls back to the target.
        ("FROM --platform=$UNSET busybox\nRUN true\n", ARM64, [(0, 2)]),
    ],
)
def test_foreign_runs(dockerfile: str, target: Platform, foreign: list[tuple[int, int]]) -> None:
    found = foreign_runs(plan_of(dockerfile, target), AMD64)
    assert [(p.stage.index, p.stage.run_lines[0]) for p in found] == foreign


def test_stages_after_the_target_are_not_built() -> None:
    text = "FROM busybox AS one\nCOPY a /a\nFROM busybox AS two\nRUN true\n"
    assert foreign_runs(plan_of(text, ARM64, stage="one"), AMD64) == []
    assert len(foreign_runs(plan_of(text, ARM64, stage="TWO"), AMD64)) == 1


@pytest.mark.parametrize(
    ("line", "image", "expected"),
    [
        (
            "FROM --platform=$BUILDPLATFORM golang:1.22 AS build",
            "golang:1.22",
            "FROM --platform=$BUILDPLATFORM golang@sha256:ab AS build",
        ),
        ("from  golang:1.22", "golang:1.22", "from  golang@sha256:ab"),
        (
            "FROM --platform=$BUILDPLATFORM golang:${GO} AS build # comment",
            "golang:1.22",
            "FROM --platform=$BUILDPLATFORM golang@sha256:ab AS build # comment",
        ),
        ("FROM other:1", "golang:1.22", None),
        ("RUN golang:1.22", "golang:1.22", None),
    ],
)
def test_pin_from_line(line: str, image: str, expected: str | None) -> None:
    assert pin_from_line(line, image, "golang@sha256:ab") == expected


# Handlers as qemu's binfmt configuration registers them (magic and mask from
# scripts/qemu-binfmt-conf.sh), shown the way /proc/sys/fs/binfmt_misc/<name> shows them.
QEMU_AARCH64 = """enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: POCF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
"""
QEMU_S390X = """enabled
interpreter /usr/bin/qemu-s390x-static
flags:
offset 0
magic 7f454c4602020100000000000000000000020016
mask ffffffffffffff00fffffffffffffffffffeffff
"""
PYTHON = """enabled
interpreter /usr/bin/python3.11
flags:
offset 0
magic a70d0d0a
"""
EXTENSION = "enabled\ninterpreter /usr/bin/mono\nflags: \nextension .exe\n"


def test_elf_headers() -> None:
    header = elf_header(ARM64)
    assert header is not None and len(header) == 64
    assert header[:8] == b"\x7fELF\x02\x01\x01\x00"
    assert header[18:20] == (183).to_bytes(2, "little")
    s390x = elf_header(Platform("linux", "s390x"))
    assert s390x is not None and s390x[5] == 2 and s390x[18:20] == (22).to_bytes(2, "big")
    assert elf_header(Platform("linux", "sparc64")) is None


@pytest.mark.parametrize(
    ("text", "platform", "matches", "fixed"),
    [
        (QEMU_AARCH64, ARM64, True, True),
        (QEMU_AARCH64, AMD64, False, True),
        (QEMU_AARCH64.replace("enabled", "disabled"), ARM64, False, True),
        (QEMU_S390X, Platform("linux", "s390x"), True, False),
        (QEMU_S390X, ARM64, False, False),
        (PYTHON, ARM64, False, False),
    ],
)
def test_handlers_for(text: str, platform: Platform, matches: bool, fixed: bool) -> None:
    handler = parse_handler("qemu", text)
    assert handler is not None
    assert handler.fixed is fixed
    assert bool(handlers_for(platform, [handler])) is matches


def test_extension_handlers_are_ignored() -> None:
    assert parse_handler("mono", EXTENSION) is None


def write_binfmt(directory: Path, status: str, handlers: dict[str, str]) -> Path:
    directory.mkdir()
    (directory / "status").write_text(status + "\n")
    (directory / "register").write_text("")
    for name, text in handlers.items():
        (directory / name).write_text(text)
    return directory


@pytest.mark.parametrize(
    ("status", "handlers", "problem"),
    [
        ("enabled", {"qemu-aarch64": QEMU_AARCH64}, None),
        ("enabled", {}, "the runner has no binfmt_misc handler for arm64 binaries"),
        ("enabled", {"python3.11": PYTHON}, "no binfmt_misc handler for arm64"),
        ("disabled", {"qemu-aarch64": QEMU_AARCH64}, "binfmt_misc is disabled on the runner"),
        (
            "enabled",
            {"qemu-aarch64": QEMU_AARCH64.replace("POCF", "P")},
            "registered without the F flag",
        ),
    ],
)
def test_emulation_problem_from_handlers(
    tmp_path: Path, status: str, handlers: dict[str, str], problem: str | None
) -> None:
    directory = write_binfmt(tmp_path / "binfmt_misc", status, handlers)
    found = emulation_problem(ARM64, tmp_path / "work", directory)
    assert (found is None) if problem is None else (found is not None and problem in found)


def image(platform: Platform, n: int, media_type: str = DOCKER_MANIFEST) -> PlatformImage:
    return PlatformImage(platform, f"sha256:{n:064x}", 500 + n, media_type, f"sha256:{n + 9:064x}")


@pytest.mark.parametrize(
    ("media_types", "index_type"),
    [
        ([DOCKER_MANIFEST, DOCKER_MANIFEST], DOCKER_MANIFEST_LIST),
        ([OCI_MANIFEST, OCI_MANIFEST], OCI_INDEX),
        ([DOCKER_MANIFEST, OCI_MANIFEST], OCI_INDEX),
    ],
)
def test_assemble_index(media_types: list[str], index_type: str) -> None:
    arm = Platform("linux", "arm", "v7")
    images = [image(AMD64, 1, media_types[0]), image(arm, 2, media_types[1])]
    body, media_type, digest = assemble_index(images)
    assert media_type == index_type and digest == sha256_digest(body)
    assert json.loads(body) == {
        "schemaVersion": 2,
        "mediaType": index_type,
        "manifests": [
            {
                "mediaType": media_types[0],
                "digest": images[0].digest,
                "size": 501,
                "platform": {"architecture": "amd64", "os": "linux"},
            },
            {
                "mediaType": media_types[1],
                "digest": images[1].digest,
                "size": 502,
                "platform": {"architecture": "arm", "os": "linux", "variant": "v7"},
            },
        ],
    }
    assert platform_metadata(images)[1] == {
        "platform": "linux/arm/v7",
        "digest": images[1].digest,
        "imageid": images[1].config_digest,
    }


def test_assemble_index_refuses_nothing_and_duplicates() -> None:
    with pytest.raises(ValueError, match="at least one"):
        assemble_index([])
    with pytest.raises(ValueError, match="once"):
        assemble_index([image(AMD64, 1), image(AMD64, 2)])
