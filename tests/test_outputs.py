"""build-push-action's `outputs`: the forms kaniko can produce, refusals with reasons, and
where their files may go outside the workspace."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaniko_action.errors import InputError
from kaniko_action.spec.build_spec import BuildSpec, build_spec
from kaniko_action.spec.exports import OutputPlan, parse_outputs
from kaniko_action.spec.inputs import DEFAULTS

from .support.elsewhere import JOB_UID, elsewhere


@pytest.mark.parametrize(
    ("value", "plan"),
    [
        ("", None),
        ("type=registry", OutputPlan(push=True)),
        ("type=registry,push=true", OutputPlan(push=True)),
        ("type=image,push=true", OutputPlan(push=True)),
        ("type=image,name=reg/app:1,push=true", OutputPlan(push=True, names=("reg/app:1",))),
        ('type=image,"name=reg/app:1,reg/app:2",push=true', OutputPlan(push=True, names=("reg/app:1", "reg/app:2"))),
        ("type=docker,dest=out/image.tar", OutputPlan(docker_tar="out/image.tar")),
        ("type=oci,dest=out/image.oci.tar", OutputPlan(oci_tar="out/image.oci.tar")),
        ("type=oci,dest=out/layout,tar=false", OutputPlan(oci_dir="out/layout")),
        ("type=oci,dest=out/layout,tar=true", OutputPlan(oci_tar="out/layout")),
        (
            "type=registry\ntype=docker,dest=a.tar\ntype=oci,dest=b.tar",
            OutputPlan(push=True, docker_tar="a.tar", oci_tar="b.tar"),
        ),
        (" TYPE=registry ", OutputPlan(push=True)),
        ("type=local,dest=out", OutputPlan(local_dir="out")),
        ("./out", OutputPlan(local_dir="./out")),
        ("type=tar,dest=out/fs.tar", OutputPlan(rootfs_tar="out/fs.tar")),
        ("type=cacheonly", OutputPlan(cacheonly=True)),
        # Pushes only with `push: true` (build_spec decides).
        ("type=image", OutputPlan(unpushed_image="type=image")),
        ("type=image,name=reg/app:1", OutputPlan(names=("reg/app:1",), unpushed_image="type=image,name=reg/app:1")),
        (
            "type=registry\ntype=local,dest=out\ntype=tar,dest=fs.tar",
            OutputPlan(push=True, local_dir="out", rootfs_tar="fs.tar"),
        ),
    ],
)  # fmt: skip
def test_mapped(value: str, plan: OutputPlan | None) -> None:
    assert parse_outputs(value) == plan


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-", r"'-' writes a tarball to standard output, which is the step's log here: use type=tar,dest=FILE"),
        ("type=local", r"'type=local' needs dest=DIR$"),
        ("type=local,dest=-", r"needs dest=DIR"),
        ("type=tar", r"'type=tar' needs dest=FILE$"),
        ("type=local,dest=a\ntype=local,dest=b", r"only one type=local output"),
        ("type=tar,dest=a\ntype=tar,dest=b", r"only one type=tar output"),
        ("type=local,dest=out,platform-split=false", r"attribute 'platform-split' is not supported: several platforms always get one sub-directory each"),
        ("type=tar,dest=out.tar,compression=gzip", r"attribute 'compression' of type=tar has no kaniko equivalent"),
        ("type=cacheonly,dest=x", r"attribute 'dest' of type=cacheonly has no kaniko equivalent"),
        ("type=cacheonly\ntype=registry", r"type=cacheonly exports nothing: it cannot be combined with other outputs"),
        ("type=docker", r"'type=docker' needs dest=FILE \(there is no Docker daemon to load into\)"),
        ("type=docker,dest=-", r"needs dest=FILE"),
        ("type=oci", r"'type=oci' needs dest=FILE$"),
        ("type=image,push=false", r"without push=true there is no image store to keep the image in; add push=true, or write it with type=docker,dest=FILE$"),
        ("type=registry,push=false", r"without push=true"),
        ("type=registry,compression=zstd", r"attribute 'compression' of type=registry has no kaniko equivalent"),
        ("type=image,push=true,annotation.x=y", r"kaniko writes no annotations; use 'labels'"),
        ("type=wasm", r"unknown type 'wasm'"),
        ("dest=x", r"'dest=x' has no type="),
        ("type=docker,dest=a\ntype=docker,dest=b", r"only one type=docker output"),
        ("type=registry,push=maybe", r"'maybe' is not a boolean"),
        ("type=registry,push", r"'push' is not key=value"),
    ],
)  # fmt: skip
def test_refused(value: str, message: str) -> None:
    with pytest.raises(InputError, match=r"input 'outputs': .*" + message):
        parse_outputs(value)


@pytest.fixture
def shared() -> Iterator[Path]:
    with elsewhere() as top:
        yield top


def spec_with(ws: Path, outputs: str, env: dict[str, str]) -> BuildSpec:
    (ws / "Dockerfile").write_text("FROM scratch\n")
    raw = dict(DEFAULTS)
    raw.update({"tags": "reg/app:1", "outputs": outputs})
    return build_spec(raw, str(ws), None, env)


SUDO = {"SUDO_UID": str(JOB_UID), "SUDO_GID": str(JOB_UID)}
FIELDS = {
    "docker": "tar_path",
    "oci": "oci_tar_path",
    "oci-dir": "oci_layout_path",
    "local": "local_dir",
    "tar": "rootfs_tar_path",
}
FORMS = {
    "docker": "type=docker,dest={}",
    "oci": "type=oci,dest={}",
    "oci-dir": "type=oci,dest={},tar=false",
    "local": "type=local,dest={}",
    "tar": "type=tar,dest={}",
}


@pytest.mark.skipif(os.geteuid() != 0, reason="the job's user is SUDO_UID's only for root")
@pytest.mark.parametrize("kind", FORMS)
def test_every_form_writes_outside_the_workspace_where_the_job_user_could(
    tmp_path: Path, shared: Path, kind: str
) -> None:
    """Docker's own examples: `type=docker,dest=/tmp/image.tar`, then upload-artifact."""
    dest = shared / "mine" / "new" / "out"
    spec = spec_with(tmp_path, FORMS[kind].format(dest), SUDO)
    assert getattr(spec, FIELDS[kind]) == dest
    assert spec.job_user is not None and spec.job_user.owner == (JOB_UID, JOB_UID)
    assert not (shared / "mine" / "new").exists()  # checked, not made
    with pytest.raises(InputError, match=r"^input 'outputs': .*does not let it create out$"):
        spec_with(tmp_path, FORMS[kind].format(shared / "rootonly" / "out"), SUDO)
    # A job run as root (no sudo) may write there.
    plain = spec_with(tmp_path, FORMS[kind].format(shared / "rootonly" / "out"), {})
    assert plain.job_user is None
    assert getattr(plain, FIELDS[kind]) == shared / "rootonly" / "out"


@pytest.mark.skipif(os.geteuid() != 0, reason="the job's user is SUDO_UID's only for root")
@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ("type=docker,dest={shared}/sticky/other.tar", "belongs to uid 1002 in the sticky directory"),
        ("type=tar,dest={shared}/link/fs.tar", "goes through the symlink"),
        ("type=local,dest={shared}/mine/full", "is a directory that is not empty"),
        ("type=docker,dest={shared}/mine/dir", "exists and is not a file"),
        ("type=tar,dest={shared}/mine/dir", "is a directory; type=tar needs a file name"),
        ("type=oci,dest={shared}/private/i.tar", "does not let it search"),
    ],
)  # fmt: skip
def test_outside_the_workspace_refused(
    tmp_path: Path, shared: Path, outputs: str, message: str
) -> None:
    with pytest.raises(InputError, match=rf"^input 'outputs': .*{message}"):
        spec_with(tmp_path, outputs.format(shared=shared), SUDO)
