"""Table tests of the pure layer: raw inputs -> BuildSpec -> executor argv and environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaniko_action.argv import executor_invocation
from kaniko_action.errors import InputError
from kaniko_action.inputs import DEFAULTS
from kaniko_action.layout import chroot_layout
from kaniko_action.spec import build_spec

KD = "/.kaniko-build"
FIXED = [
    f"{KD}/executor",
    f"--dockerfile={KD}/context/Dockerfile",
    f"--context=dir://{KD}/context",
    "--force",
]
DIGESTS = [
    f"--digest-file={KD}/out/digest",
    f"--image-name-with-digest-file={KD}/out/image-name-with-digest",
]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "Dockerfile.prd").write_text("FROM scratch\n")
    return tmp_path


def invocation(ws: Path, **inputs: str) -> tuple[list[str], dict[str, str]]:
    raw = dict(DEFAULTS)
    raw.update({k.replace("_", "-"): v for k, v in inputs.items()})
    spec = build_spec(raw, str(ws))
    inv = executor_invocation(spec, chroot_layout(spec.paths))
    return list(inv.argv), inv.env


@pytest.mark.parametrize(
    ("inputs", "expected_tail"),
    [
        ({"image": "reg:5000/app"}, ["--destination=reg:5000/app:latest", *DIGESTS]),
        ({"image": "reg:5000/app", "tag": "v2"}, ["--destination=reg:5000/app:v2", *DIGESTS]),
        (
            {"tags": "reg/a:1,reg/a:2\nreg/a:3", "image": "reg/a", "tag": "1"},
            ["--destination=reg/a:1", "--destination=reg/a:2", "--destination=reg/a:3", *DIGESTS],
        ),
        ({"push": "false"}, ["--no-push"]),
        ({"push": "false", "tags": "r/a:1"}, ["--destination=r/a:1", *DIGESTS, "--no-push"]),
        (
            {"tags": "r/a:1", "target": "builder"},
            ["--destination=r/a:1", *DIGESTS, "--target=builder"],
        ),
        (
            {"tags": "r/a:1", "labels": "org.opencontainers.image.title=My App\na=b=c"},
            [
                "--destination=r/a:1",
                *DIGESTS,
                "--label=org.opencontainers.image.title=My App",
                "--label=a=b=c",
            ],
        ),
        (
            {"tags": "r/a:1", "insecure_registries": "localhost:5000, 127.0.0.1:9\n"},
            [
                "--destination=r/a:1",
                *DIGESTS,
                "--insecure-registry=localhost:5000",
                "--insecure-registry=127.0.0.1:9",
            ],
        ),
    ],
)
def test_argv_table(ws: Path, inputs: dict[str, str], expected_tail: list[str]) -> None:
    argv, _ = invocation(ws, **inputs)
    assert argv == FIXED + expected_tail


def test_build_args_go_through_the_environment(ws: Path) -> None:
    argv, env = invocation(
        ws, tags="r/a:1", build_args="GREETING=hello big world\nPATH=/opt/bin\nmy-arg=x y"
    )
    assert "--build-arg=GREETING" in argv
    assert env["GREETING"] == "hello big world"
    assert not any("hello big world" in a for a in argv)
    # Names the executor's own environment uses, or that are not variable names, stay on argv.
    assert "--build-arg=PATH=/opt/bin" in argv
    assert "--build-arg=my-arg=x y" in argv
    assert env["PATH"].startswith("/usr/local/bin:/.kaniko-build:")


def test_environment_matches_the_executor_image(ws: Path) -> None:
    _, env = invocation(ws, tags="r/a:1")
    assert env == {
        "PATH": "/usr/local/bin:/.kaniko-build:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "USER": "root",
        "KANIKO_DIR": KD,
        "DOCKER_CONFIG": f"{KD}/.docker",
        "SSL_CERT_DIR": f"{KD}/ssl/certs",
        "SSL_CERT_FILE": f"{KD}/ssl/certs/ca-certificates.crt",
    }


@pytest.mark.parametrize(
    ("inputs", "dockerfile", "context"),
    [
        ({"context": "sub"}, f"{KD}/context/Dockerfile", f"{KD}/context"),
        (
            {"file": "sub/Dockerfile", "context": "."},
            f"{KD}/context/sub/Dockerfile",
            f"{KD}/context",
        ),
        ({"dockerfile": "sub/Dockerfile"}, f"{KD}/context/Dockerfile", f"{KD}/context"),
        (
            {"file": "other/Dockerfile.prd", "context": "sub"},
            f"{KD}/dockerfile/Dockerfile.prd",
            f"{KD}/context",
        ),
    ],
)
def test_dockerfile_location_in_chroot(
    ws: Path, inputs: dict[str, str], dockerfile: str, context: str
) -> None:
    argv, _ = invocation(ws, tags="r/a:1", **inputs)
    assert f"--dockerfile={dockerfile}" in argv
    assert f"--context=dir://{context}" in argv


def test_duplicate_destinations_collapse(ws: Path) -> None:
    argv, _ = invocation(ws, tags="r/a:1\nr/a:1", image="r/a", tag="1")
    assert [a for a in argv if a.startswith("--destination")] == ["--destination=r/a:1"]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({}, r"input 'tags': no destination"),
        ({"tags": "r/a:1", "push": "yes"}, r"input 'push': 'yes' is not a boolean"),
        ({"tags": "Bad/Ref"}, r"input 'tags': 'Bad/Ref' is not a valid image reference"),
        ({"image": "r/a:1"}, r"input 'image': 'r/a:1' must not carry a tag"),
        ({"tag": "v1"}, r"input 'tag': is set but 'image' is empty"),
        ({"tags": "r/a@sha256:" + "a" * 64}, r"input 'tags': .* has a digest"),
        ({"tags": "r/a:1", "build_args": "NOVALUE"}, r"input 'build-args': 'NOVALUE'"),
        ({"tags": "r/a:1", "labels": "x"}, r"input 'labels': 'x'"),
        ({"tags": "r/a:1", "target": "two words"}, r"input 'target'"),
        ({"tags": "r/a:1", "insecure_registries": "http://x"}, r"input 'insecure-registries'"),
        ({"tags": "r/a:1", "executor_dir": "kaniko"}, r"input 'executor-dir'"),
        ({"tags": "r/a:1", "context": "nope"}, r"input 'context': 'nope' does not exist"),
    ],
)
def test_bad_inputs(ws: Path, inputs: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        invocation(ws, **inputs)
