"""Raw inputs -> BuildSpec for `outputs`, `platforms` and the secrets inputs. Pure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kaniko_action.errors import InputError
from kaniko_action.executor.argv import executor_invocation
from kaniko_action.sandbox.layout import chroot_layout
from kaniko_action.spec.build_spec import BuildSpec, build_spec
from kaniko_action.spec.inputs import DEFAULTS


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "secret.txt").write_text("file secret\n")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_text("keep\n")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "escape").symlink_to("/etc")
    return tmp_path


def with_env(ws: Path, env: dict[str, str], inputs: dict[str, str]) -> BuildSpec:
    raw = dict(DEFAULTS)
    raw.update({k.replace("_", "-"): v for k, v in inputs.items()})
    return build_spec(raw, str(ws), None, env)


def spec_of(ws: Path, **inputs: str) -> BuildSpec:
    return with_env(ws, {}, inputs)


@pytest.mark.parametrize(
    ("inputs", "push", "tar", "oci_dir", "oci_tar"),
    [
        ({"outputs": "type=registry"}, True, None, None, None),
        ({"outputs": "type=image,push=true"}, True, None, None, None),
        # With `outputs`, they decide: the 'push' default does not add a push.
        ({"outputs": "type=docker,dest=out/i.tar"}, False, "out/i.tar", None, None),
        ({"outputs": "type=oci,dest=out/i.oci.tar"}, False, None, None, "out/i.oci.tar"),
        ({"outputs": "type=oci,dest=out/oci,tar=false"}, False, None, "out/oci", None),
        (
            {"outputs": "type=registry\ntype=oci,dest=sub/../i.tar", "push": "true"},
            True,
            None,
            None,
            "i.tar",
        ),
        ({"tar_path": "t.tar"}, False, "t.tar", None, None),
        ({"tar_path": "t.tar", "push": "true"}, True, "t.tar", None, None),
    ],
)
def test_outputs(
    ws: Path,
    inputs: dict[str, str],
    push: bool,
    tar: str | None,
    oci_dir: str | None,
    oci_tar: str | None,
) -> None:
    spec = spec_of(ws, tags="reg/app:1", **inputs)
    absolute = {k: (ws / v if v and not v.startswith("/") else (Path(v) if v else None))
                for k, v in (("tar", tar), ("oci_dir", oci_dir), ("oci_tar", oci_tar))}  # fmt: skip
    assert spec.push is push
    assert (spec.tar_path, spec.oci_layout_path, spec.oci_tar_path) == (
        absolute["tar"],
        absolute["oci_dir"],
        absolute["oci_tar"],
    )


def test_output_names_become_destinations(ws: Path) -> None:
    spec = spec_of(ws, tags="reg/app:1", outputs='type=image,"name=reg/app:2,reg/b:1",push=true')
    assert spec.destinations == ("reg/app:1", "reg/app:2", "reg/b:1")
    assert spec.push


def test_oci_tarball_makes_kaniko_write_a_layout(ws: Path) -> None:
    spec = spec_of(ws, tags="reg/app:1", outputs="type=oci,dest=img.tar")
    argv = executor_invocation(spec, chroot_layout(spec.paths)).argv
    assert "--oci-layout-path=/.kaniko-build/out/oci" in argv
    assert "--no-push" in argv


@pytest.mark.parametrize(
    ("outputs", "local", "tar"),
    [
        ("type=local,dest=out", "out", None),
        ("out/fs", "out/fs", None),
        ("type=local,dest=dir", "dir", None),  # an empty directory
        ("type=tar,dest=out/fs.tar", None, "out/fs.tar"),
        ("type=tar,dest=secret.txt", None, "secret.txt"),  # a file is overwritten
        ("type=local,dest=a\ntype=tar,dest=b.tar\ntype=oci,dest=c.tar", "a", "b.tar"),
    ],
)
def test_filesystem_outputs_make_kaniko_write_a_layout(
    ws: Path, outputs: str, local: str | None, tar: str | None
) -> None:
    spec = spec_of(ws, outputs=outputs)
    assert (spec.local_dir, spec.rootfs_tar_path) == (
        ws / local if local else None,
        ws / tar if tar else None,
    )
    assert spec.writes_layout and not spec.push
    argv = executor_invocation(spec, chroot_layout(spec.paths)).argv
    assert argv.count("--oci-layout-path=/.kaniko-build/out/oci") == 1
    assert "--no-push" in argv


def test_cacheonly_builds_without_any_output_or_push(ws: Path) -> None:
    spec = spec_of(ws, tags="reg/app:1", outputs="type=cacheonly")
    assert not spec.push and not spec.writes_layout
    assert (spec.tar_path, spec.oci_layout_path, spec.local_dir) == (None, None, None)
    argv = executor_invocation(spec, chroot_layout(spec.paths)).argv
    assert "--no-push" in argv
    assert not [a for a in argv if a.startswith(("--oci-layout-path", "--tar-path"))]


def test_cacheonly_with_push_true_pushes_as_buildx_push_does(ws: Path) -> None:
    """buildx's --push adds a type=image,push=true export to what `outputs` says."""
    spec = spec_of(ws, tags="reg/app:1", push="true", outputs="type=cacheonly")
    assert spec.push and not spec.writes_layout
    assert "--no-push" not in executor_invocation(spec, chroot_layout(spec.paths)).argv


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"outputs": "type=registry", "push": "false"}, r"input 'outputs': pushes .* while 'push' is false"),
        ({"outputs": "type=docker,dest=a.tar", "tar_path": "b.tar"}, r"input 'outputs': writes what 'tar-path' also names"),
        ({"outputs": "type=oci,dest=o,tar=false", "oci_layout_path": "p"}, r"'oci-layout-path' also names"),
        ({"outputs": "type=docker,dest=dir"}, r"input 'outputs': 'dir' exists and is not a file"),
        ({"outputs": "type=oci,dest=dir"}, r"input 'outputs': 'dir' exists and is not a file"),
        ({"outputs": "type=oci,dest=/"}, r"input 'outputs': '/' resolves to /; give the output a path of its own"),
        ({"outputs": "type=oci,dest=o.tar,tar=false", "tar_path": "o.tar/x"}, r"two outputs overlap"),
        ({"outputs": "type=oci,dest=Dockerfile,tar=false"}, r"'Dockerfile' exists and is not a directory"),
        ({"outputs": "type=image,name=Bad/Name,push=true"}, r"input 'outputs': 'Bad/Name' is not a valid"),
        ({"platforms": "linux/amd64,linux/arm64", "tar_path": "i.tar"}, r"input 'platforms': a docker tarball holds one platform"),
        ({"platforms": "linux/amd64,linux/aarch64,linux/arm64"}, r"'linux/arm64' is given twice"),
        ({"platforms": "linux/amd64,linux/arm64", "platform": "linux/amd64"}, r"input 'platforms': .* differs from 'platform'"),
        ({"kaniko_args": "--secret=id=a,src=/x"}, r"'--secret' is set by the action: use the 'secrets' input"),
        ({"outputs": "type=local,dest=full"}, r"input 'outputs': 'full' is a directory that is not empty; type=local needs a new or empty directory"),
        ({"outputs": "type=local,dest=Dockerfile"}, r"input 'outputs': 'Dockerfile' exists and is not a directory"),
        ({"outputs": "type=local,dest=.."}, r"input 'outputs': '..' holds the workspace; give the output a path of its own"),
        ({"outputs": "type=local,dest=escape/out"}, r"input 'outputs': 'escape/out' resolves to /etc/out through a symlink, which is not inside the workspace; a link there must stay inside"),
        ({"outputs": "type=tar,dest=dir"}, r"input 'outputs': 'dir' is a directory; type=tar needs a file name"),
        ({"outputs": "type=tar,dest=fifo"}, r"input 'outputs': 'fifo' exists and is not a regular file"),
        ({"outputs": "type=local,dest=o\ntype=tar,dest=o/fs.tar"}, r"two outputs overlap"),
        ({"outputs": "type=cacheonly", "tar_path": "i.tar"}, r"input 'outputs': type=cacheonly exports nothing, while 'tar-path' writes the image"),
    ],
)  # fmt: skip
def test_refused(ws: Path, inputs: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        spec_of(ws, tags="reg/app:1", **inputs)


@pytest.mark.parametrize(
    ("inputs", "platform", "platforms"),
    [
        ({"platforms": "linux/amd64"}, "linux/amd64", ()),
        ({"platforms": "linux/aarch64"}, "linux/arm64", ()),
        ({"platform": "linux/arm64/v8", "platforms": "linux/arm64"}, "linux/arm64", ()),
        ({"platforms": "linux/amd64,linux/arm64"}, None, ("linux/amd64", "linux/arm64")),
        ({"platforms": "linux/arm/v7\nlinux/amd64"}, None, ("linux/arm/v7", "linux/amd64")),
    ],
)
def test_platforms(
    ws: Path, inputs: dict[str, str], platform: str | None, platforms: tuple[str, ...]
) -> None:
    spec = spec_of(ws, tags="reg/app:1", **inputs)
    assert (spec.platform, spec.platforms) == (platform, platforms)


def test_secrets_reach_the_spec_without_showing(ws: Path) -> None:
    spec = with_env(
        ws,
        {"NPM": "npm-token-value"},
        {
            "tags": "reg/app:1",
            "secrets": "token=inline-value",
            "secret-files": "file=secret.txt",
            "secret-envs": "npm=NPM",
        },
    )
    assert [(s.id, s.kind) for s in spec.secrets] == [
        ("token", "value"),
        ("file", "file"),
        ("npm", "env"),
    ]
    assert "inline-value" not in repr(spec)
