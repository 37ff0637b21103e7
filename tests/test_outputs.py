"""build-push-action's `outputs`: the forms kaniko can produce, and refusals with reasons."""

from __future__ import annotations

import pytest

from kaniko_action.errors import InputError
from kaniko_action.spec.exports import OutputPlan, parse_outputs


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
        ("type=image", r"without push=true there is no image store"),
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
