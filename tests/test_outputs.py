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
    ],
)  # fmt: skip
def test_mapped(value: str, plan: OutputPlan | None) -> None:
    assert parse_outputs(value) == plan


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("type=local,dest=out", r"type=local is not possible with kaniko: it exports the build's files"),
        ("type=tar,dest=out.tar", r"type=tar is not possible"),
        ("type=cacheonly", r"type=cacheonly is not possible with kaniko: set 'push: false'"),
        ("./out", r"a bare path or '-' exports the build's files"),
        ("-", r"a bare path or '-'"),
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
