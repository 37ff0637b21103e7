"""`outputs` type=local and type=tar from a collected OCI layout: layer digests checked, the
directory handed to the workspace's owner, a sub-directory per platform, refusals."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaniko_action.errors import BuildFailed, SandboxError
from kaniko_action.oci.layout import LayoutImage, read_image
from kaniko_action.spec.build_spec import BuildSpec, build_spec
from kaniko_action.spec.inputs import DEFAULTS
from kaniko_action.staging.exports import export_filesystem, platform_directory

from .support.elsewhere import JOB_UID, elsewhere

GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def layer_blob(files: dict[str, bytes], devices: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o4755
            tar.addfile(info, io.BytesIO(data))
        for name in devices:
            info = tarfile.TarInfo(name)
            info.type = tarfile.CHRTYPE
            tar.addfile(info)
    return buf.getvalue()


def write_blob(directory: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (directory / "blobs/sha256").mkdir(parents=True, exist_ok=True)
    (directory / "blobs/sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def make_layout(directory: Path, layers: list[bytes], media_type: str = GZIP_LAYER) -> LayoutImage:
    config = write_blob(directory, b'{"architecture":"amd64","os":"linux"}')
    descriptors = [dict(write_blob(directory, blob), mediaType=media_type) for blob in layers]
    manifest = json.dumps({"schemaVersion": 2, "config": config, "layers": descriptors}).encode()
    entry = dict(
        write_blob(directory, manifest), mediaType="application/vnd.oci.image.manifest.v1+json"
    )
    (directory / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    (directory / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return read_image(directory)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "Dockerfile").write_text("FROM scratch\n")
    os.chown(ws, 1001, 1002)
    return ws


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    path = tmp_path / "scratch"
    path.mkdir(mode=0o700)
    return path


def spec_of(ws: Path, outputs: str) -> BuildSpec:
    raw = dict(DEFAULTS)
    raw["outputs"] = outputs
    return build_spec(raw, str(ws))


def two_layers(scratch: Path, name: str = "oci") -> LayoutImage:
    return make_layout(
        scratch / name,
        [
            layer_blob({"etc/motd": b"lower\n", "bin/tool": b"tool"}),
            layer_blob({"etc/motd": b"upper\n"}, devices=("dev/null",)),
        ],
    )


def test_local_writes_the_filesystem_owned_like_the_workspace(ws: Path, scratch: Path) -> None:
    warnings: list[str] = []
    spec = spec_of(ws, "type=local,dest=out/fs")
    exported = export_filesystem(spec, [(None, two_layers(scratch))], scratch, warnings.append)
    out = ws / "out/fs"
    assert exported.local_dir == str(out)
    assert (out / "etc/motd").read_text() == "upper\n"
    assert (out / "bin/tool").stat().st_mode & 0o7777 == 0o755  # setuid cleared
    assert not (out / "dev/null").exists()
    for path in [ws / "out", out, *out.rglob("*")]:
        assert (os.lstat(path).st_uid, os.lstat(path).st_gid) == (1001, 1002), path
    assert sorted(os.listdir(ws / "out")) == ["fs"]  # no hidden directory left
    assert warnings == [
        "the image's filesystem output: 1 device node or fifo of the image left out"
    ]


def test_local_fills_an_empty_directory_but_never_replaces_a_full_one(
    ws: Path, scratch: Path
) -> None:
    (ws / "out").mkdir()
    spec = spec_of(ws, "type=local,dest=out")
    image = two_layers(scratch)
    export_filesystem(spec, [(None, image)], scratch, lambda _m: None)
    assert (ws / "out/etc/motd").read_text() == "upper\n"
    # Filled after the inputs were checked: refused at export, left as it is.
    (ws / "late").mkdir()
    spec = spec_of(ws, "type=local,dest=late")
    (ws / "late/keep").write_text("keep\n")
    with pytest.raises(SandboxError, match=r"refusing to replace .*late: it is no longer missing"):
        export_filesystem(spec, [(None, image)], scratch, lambda _m: None)
    assert sorted(os.listdir(ws)) == ["Dockerfile", "late", "out"]
    assert os.listdir(ws / "late") == ["keep"]


def test_several_platforms_get_a_directory_each_as_in_buildkit(ws: Path, scratch: Path) -> None:
    amd = make_layout(scratch / "a", [layer_blob({"arch": b"amd64"})])
    arm = make_layout(scratch / "b", [layer_blob({"arch": b"arm/v7"})])
    trees = [(platform_directory("linux/amd64"), amd), (platform_directory("linux/arm/v7"), arm)]
    export_filesystem(spec_of(ws, "out\ntype=tar,dest=fs.tar"), trees, scratch, lambda _m: None)
    assert sorted(os.listdir(ws / "out")) == ["linux_amd64", "linux_arm_v7"]
    assert (ws / "out/linux_arm_v7/arch").read_text() == "arm/v7"
    assert os.stat(ws / "out/linux_amd64").st_uid == 1001
    with tarfile.open(ws / "fs.tar") as tar:
        assert sorted(tar.getnames()) == [
            "linux_amd64",
            "linux_amd64/arch",
            "linux_arm_v7",
            "linux_arm_v7/arch",
        ]
        assert tar.extractfile("linux_amd64/arch").read() == b"amd64"  # type: ignore[union-attr]


def test_tar_holds_the_filesystem_with_the_image_owners(ws: Path, scratch: Path) -> None:
    warnings: list[str] = []
    spec = spec_of(ws, "type=tar,dest=out/fs.tar\ntype=local,dest=out/dir")
    exported = export_filesystem(spec, [(None, two_layers(scratch))], scratch, warnings.append)
    tarball = ws / "out/fs.tar"
    assert exported.rootfs_tar_path == str(tarball)
    assert (os.stat(tarball).st_uid, os.stat(tarball).st_gid) == (1001, 1002)
    with tarfile.open(tarball) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == ["bin", "bin/tool", "dev", "etc", "etc/motd"]
        assert tar.extractfile("etc/motd").read() == b"upper\n"  # type: ignore[union-attr]
        assert (members["bin/tool"].uid, members["bin/tool"].mode) == (0, 0o755)
    assert len(warnings) == 1  # both outputs left out the same node: told once
    assert sorted(os.listdir(scratch)) == ["oci"]  # the tree and the tarball are gone


def test_a_layer_that_does_not_match_its_digest_is_not_applied(ws: Path, scratch: Path) -> None:
    image = two_layers(scratch)
    blob = image.blob(image.layers[1].digest)
    data = bytearray(blob.read_bytes())
    data[-20] ^= 1
    blob.write_bytes(bytes(data))
    with pytest.raises(BuildFailed, match="does not match its digest or size"):
        export_filesystem(spec_of(ws, "type=local,dest=out"), [(None, image)], scratch, print)
    assert os.listdir(ws) == ["Dockerfile"]


def test_a_zstd_layer_is_refused_with_the_reason(ws: Path, scratch: Path) -> None:
    image = make_layout(
        scratch / "oci", [layer_blob({"f": b"x"})], "application/vnd.oci.image.layer.v1.tar+zstd"
    )
    with pytest.raises(BuildFailed, match=r"not a tarball .*drop --compression=zstd"):
        export_filesystem(spec_of(ws, "type=tar,dest=fs.tar"), [(None, image)], scratch, print)
    assert os.listdir(ws) == ["Dockerfile"]


def test_a_layer_that_is_not_a_tarball_is_refused(ws: Path, scratch: Path) -> None:
    image = make_layout(scratch / "oci", [b"not a tarball at all" * 40])
    with pytest.raises(BuildFailed, match="is not a readable tarball"):
        export_filesystem(spec_of(ws, "type=local,dest=out"), [(None, image)], scratch, print)
    assert os.listdir(ws) == ["Dockerfile"]


@pytest.fixture
def shared() -> Iterator[Path]:
    with elsewhere() as top:
        yield top


@pytest.mark.parametrize(
    ("env", "owner"),
    [
        pytest.param({"SUDO_UID": str(JOB_UID), "SUDO_GID": "1003"}, (JOB_UID, 1003), id="sudo"),
        pytest.param({}, (1001, 1002), id="root-the-workspace-owner"),
    ],
)
def test_outputs_outside_the_workspace_belong_to_the_job_user(
    ws: Path, scratch: Path, shared: Path, env: dict[str, str], owner: tuple[int, int]
) -> None:
    """Outside the workspace the owner is the job's user (SUDO_UID and SUDO_GID); for a
    job run as root, the workspace's owner, as inside it."""
    raw = dict(DEFAULTS)
    out = shared / "mine" / "out"
    raw["outputs"] = f"type=local,dest={out}/fs\ntype=tar,dest={out}/fs.tar"
    spec = build_spec(raw, str(ws), None, env)
    export_filesystem(spec, [(None, two_layers(scratch))], scratch, lambda _: None)
    assert (out / "fs/etc/motd").read_text() == "upper\n"
    with tarfile.open(out / "fs.tar") as tar:
        assert tar.extractfile("etc/motd").read() == b"upper\n"  # type: ignore[union-attr]
    for path in [out, *out.rglob("*")]:
        assert (os.lstat(path).st_uid, os.lstat(path).st_gid) == owner, path
    assert sorted(os.listdir(out)) == ["fs", "fs.tar"]
    assert sorted(os.listdir(ws)) == ["Dockerfile"]
