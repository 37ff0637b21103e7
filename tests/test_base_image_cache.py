"""The base-image cache (oci/tarball.py, staging/base_images.py): the tarballs the action
writes and checks, copies between cache directories, pulls from a real registry, which stages
have a base to pull (platforms/stages.py), and the kaniko log line that names a cached base."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import pytest

from kaniko_action.dockerfile.parser import parse
from kaniko_action.executor.log import LogWatcher
from kaniko_action.oci.media import DOCKER_MANIFEST, OCI_MANIFEST
from kaniko_action.oci.platform import Platform
from kaniko_action.oci.tarball import (
    Blob,
    ImageParts,
    TarballWriter,
    Uncacheable,
    check_tarball,
    image_parts,
)
from kaniko_action.platforms.stages import (
    meta_args,
    predefined_args,
    pulled_bases,
    stage_platforms,
    stages,
)
from kaniko_action.registry.client import RegistryClient, RegistryRequestError, RegistryTrust
from kaniko_action.staging import base_images
from kaniko_action.staging.base_images import (
    BASE_IMAGES_DIR,
    BasesPacker,
    cached_digests,
    copy_base,
    pull_base,
    resolve_base,
    stage_base,
)
from kaniko_action.utils.filecopy import Copier

from .support.images import push_busybox
from .support.registry import Registry

OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64")
BIG = 1 << 30
OWNER = (1001, 1001)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1]


def _layer(name: str, text: bytes) -> bytes:
    """A gzip layer tarball holding one file."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(text)
        info.mtime = 946684800
        tar.addfile(info, io.BytesIO(text))
    return gzip.compress(buf.getvalue(), mtime=0)


@dataclass(frozen=True)
class Image:
    config: bytes
    layers: tuple[bytes, ...]
    manifest: bytes

    @property
    def digest(self) -> str:
        return _digest(self.manifest)

    @property
    def parts(self) -> ImageParts:
        return image_parts(self.manifest)

    @property
    def blobs(self) -> dict[str, bytes]:
        return {_digest(b): b for b in (self.config, *self.layers)}


def make_image(
    tag: str = "one", layers: Sequence[bytes] | None = None, media: str = OCI_GZIP
) -> Image:
    config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
    if layers is None:
        layers = [_layer("a.txt", b"first " * 300 + tag.encode()), _layer("b.txt", b"second")]
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [{"mediaType": media, "digest": _digest(b), "size": len(b)} for b in layers],
        }
    ).encode()
    return Image(config, tuple(layers), manifest)


def write_tarball(image: Image, path: Path) -> None:
    """The tarball as the action writes it (TarballWriter), each blob once."""
    parts = image.parts
    blobs = image.blobs
    with open(path, "wb") as out:
        writer = TarballWriter(out)
        for blob in parts.blobs:
            data = blobs[blob.digest]

            def fill(o: BinaryIO, data: bytes = data) -> None:
                o.write(data)

            writer.add(parts.member(blob), blob.size, fill)
        writer.finish(parts)


Member = Union[tuple[str, bytes], tarfile.TarInfo]


def raw_tarball(path: Path, members: Sequence[Member]) -> None:
    """A tarball written by Python's tarfile, not by the code under test."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
                continue
            name, data = member
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def exact_members(image: Image) -> list[tuple[str, bytes]]:
    parts = image.parts
    blobs = image.blobs
    found = [(parts.member(b), blobs[b.digest]) for b in parts.blobs]
    return [*found, ("manifest.json", parts.manifest_json())]


def check(path: Path, parts: ImageParts) -> str | None:
    with open(path, "rb") as f:
        return check_tarball(f, parts)


@pytest.fixture
def dirs(tmp_path: Path) -> Iterator[Callable[[str], tuple[Path, int]]]:
    """Makes directories and opens them with O_DIRECTORY, closing them afterwards."""
    opened: list[int] = []

    def make(name: str) -> tuple[Path, int]:
        path = tmp_path / name
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        opened.append(fd)
        return path, fd

    yield make
    for fd in opened:
        os.close(fd)


def put_entry(directory: Path, image: Image) -> Path:
    """A valid base-image cache entry: `<digest>` and `<digest>.json`."""
    write_tarball(image, directory / image.digest)
    (directory / f"{image.digest}.json").write_bytes(image.manifest)
    return directory / image.digest


# ------------------------------------------------------------------ image_parts


@pytest.mark.parametrize("media", [OCI_GZIP, DOCKER_GZIP])
def test_gzip_layers_are_cacheable(media: str) -> None:
    image = make_image(media=media)
    parts = image.parts
    assert parts.config == Blob(_digest(image.config), len(image.config))
    assert parts.layers == tuple(Blob(_digest(b), len(b)) for b in image.layers)
    assert parts.size == len(image.config) + sum(len(b) for b in image.layers)


def _manifest_with(change: Callable[[dict[str, object]], object]) -> bytes:
    data = json.loads(make_image().manifest)
    change(data)
    return json.dumps(data).encode()


def _layer0(data: dict[str, object]) -> dict[str, object]:
    layers = data["layers"]
    assert isinstance(layers, list)
    first = layers[0]
    assert isinstance(first, dict)
    return first


UNCACHEABLE: dict[str, bytes] = {
    "zstd": _manifest_with(
        lambda d: _layer0(d).update(mediaType="application/vnd.oci.image.layer.v1.tar+zstd")
    ),
    "plain tar": _manifest_with(
        lambda d: _layer0(d).update(mediaType="application/vnd.oci.image.layer.v1.tar")
    ),
    "foreign": _manifest_with(
        lambda d: _layer0(d).update(
            mediaType="application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            urls=["https://example.invalid/layer"],
        )
    ),
    "gzip with urls": _manifest_with(
        lambda d: _layer0(d).update(urls=["https://example.invalid/layer"])
    ),
    "no media type": _manifest_with(lambda d: _layer0(d).pop("mediaType")),
    "schema1": json.dumps(
        {"schemaVersion": 1, "name": "a/b", "tag": "1", "fsLayers": [], "history": []}
    ).encode(),
    "index": json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [],
        }
    ).encode(),
    "not json": b"<html>not a manifest</html>",
    "not an object": b"[1, 2]",
    "layer without size": _manifest_with(lambda d: _layer0(d).pop("size")),
    "layer without digest": _manifest_with(lambda d: _layer0(d).pop("digest")),
    "layer size negative": _manifest_with(lambda d: _layer0(d).update(size=-1)),
    "layer size a boolean": _manifest_with(lambda d: _layer0(d).update(size=True)),
    "layer sha512": _manifest_with(lambda d: _layer0(d).update(digest="sha512:" + "a" * 128)),
    "config without size": _manifest_with(
        lambda d: d["config"].pop("size")  # type: ignore[attr-defined]
    ),
    "config without digest": _manifest_with(
        lambda d: d["config"].pop("digest")  # type: ignore[attr-defined]
    ),
    "no layers": _manifest_with(lambda d: d.pop("layers")),
}


@pytest.mark.parametrize("case", sorted(UNCACHEABLE))
def test_images_the_cache_cannot_hold(case: str) -> None:
    with pytest.raises(Uncacheable):
        image_parts(UNCACHEABLE[case])


def test_a_layer_listed_twice_is_one_member_listed_twice(tmp_path: Path) -> None:
    a, b = _layer("a", b"a" * 100), _layer("b", b"b" * 100)
    image = make_image(layers=[a, b, a])
    parts = image.parts
    assert len(parts.layers) == 3
    assert parts.size == len(image.config) + len(a) + len(b)  # a counted once
    listed = json.loads(parts.manifest_json())
    assert listed == [
        {
            "Config": _digest(image.config),
            "RepoTags": [],
            "Layers": [f"{_hex(_digest(x))}.tar.gz" for x in (a, b, a)],
        }
    ]
    write_tarball(image, tmp_path / "t")
    with tarfile.open(tmp_path / "t") as tar:
        names = tar.getnames()
    assert names == [
        _digest(image.config),
        f"{_hex(_digest(a))}.tar.gz",
        f"{_hex(_digest(b))}.tar.gz",
        "manifest.json",
    ]
    assert check(tmp_path / "t", parts) is None


# ------------------------------------------------------- TarballWriter, check_tarball


def test_written_tarball_round_trips(tmp_path: Path) -> None:
    image = make_image()
    path = tmp_path / "image.tar"
    write_tarball(image, path)
    assert check(path, image.parts) is None
    assert path.stat().st_size % 512 == 0
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == [
            _digest(image.config),
            *[f"{_hex(_digest(x))}.tar.gz" for x in image.layers],
            "manifest.json",
        ]
        assert all(m.isreg() and m.mode == 0o644 for m in members)
        contents = {}
        for m in members:
            extracted = tar.extractfile(m)
            assert extracted is not None
            contents[m.name] = extracted.read()
    assert contents[_digest(image.config)] == image.config
    for layer in image.layers:
        assert contents[f"{_hex(_digest(layer))}.tar.gz"] == layer
    assert json.loads(contents["manifest.json"])[0]["Config"] == _digest(image.config)
    # A tarball Python's tarfile writes with the same members passes too.
    raw_tarball(tmp_path / "raw.tar", exact_members(image))
    assert check(tmp_path / "raw.tar", image.parts) is None


def test_writer_refuses_a_fill_of_another_size(tmp_path: Path) -> None:
    with open(tmp_path / "t", "wb") as out:
        writer = TarballWriter(out)

        def short(o: BinaryIO) -> None:
            o.write(b"abc")

        with pytest.raises(OSError, match="3 bytes written, not 4"):
            writer.add("x", 4, short)


def _linked(kind: bytes, name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = "elsewhere"
    return info


def _spoiled(image: Image) -> dict[str, tuple[list[Member], str]]:
    """Tarballs that are not exactly `image`, and what check_tarball says of each."""
    good = exact_members(image)
    config, layer0, layer1, manifest = good
    name0, data0 = layer0
    flipped = bytes([data0[0] ^ 1]) + data0[1:]
    parts = image.parts
    reordered = json.loads(parts.manifest_json())
    reordered[0]["Layers"].reverse()
    two = json.loads(parts.manifest_json()) * 2
    other_config = json.loads(parts.manifest_json())
    other_config[0]["Config"] = "sha256:" + "0" * 64
    return {
        "wrong content, same size": (
            [config, (name0, flipped), layer1, manifest],
            "does not have the digest",
        ),
        "wrong size": ([config, (name0, data0 + b"x"), layer1, manifest], "holds"),
        "extra member": ([*good[:3], ("extra", b"x"), manifest], "not a part of the image"),
        "symlink layer": (
            [config, _linked(tarfile.SYMTYPE, name0), layer1, manifest],
            "not one regular member",
        ),
        "hardlink layer": (
            [config, _linked(tarfile.LNKTYPE, name0), layer1, manifest],
            "not one regular member",
        ),
        "symlink extra": (
            [*good, _linked(tarfile.SYMTYPE, "link")],
            "not one regular member",
        ),
        "directory": ([*good, _linked(tarfile.DIRTYPE, "dir")], "not one regular member"),
        "missing layer": ([config, layer1, manifest], "is missing"),
        "missing config": ([layer0, layer1, manifest], "is missing"),
        "missing manifest.json": ([config, layer0, layer1], "does not describe one image"),
        "layers in another order": (
            [config, layer0, layer1, ("manifest.json", json.dumps(reordered).encode())],
            "does not list",
        ),
        "another config listed": (
            [config, layer0, layer1, ("manifest.json", json.dumps(other_config).encode())],
            "does not list",
        ),
        "two images listed": (
            [config, layer0, layer1, ("manifest.json", json.dumps(two).encode())],
            "does not describe one image",
        ),
        "manifest.json not JSON": (
            [config, layer0, layer1, ("manifest.json", b"{")],
            "not a readable tarball",
        ),
        "duplicate member": ([config, layer0, layer0, layer1, manifest], "not one regular member"),
        "duplicate manifest.json": ([*good, manifest], "not one regular member"),
    }


@pytest.mark.parametrize("case", sorted(_spoiled(make_image())))
def test_spoiled_tarballs_are_refused(tmp_path: Path, case: str) -> None:
    image = make_image()
    members, why = _spoiled(image)[case]
    raw_tarball(tmp_path / "t", members)
    problem = check(tmp_path / "t", image.parts)
    assert problem is not None
    assert why in problem


def test_truncated_tarballs_are_refused(tmp_path: Path) -> None:
    image = make_image()
    write_tarball(image, tmp_path / "full")
    full = (tmp_path / "full").read_bytes()
    with tarfile.open(tmp_path / "full") as tar:
        offsets = {m.name: m.offset_data for m in tar.getmembers()}
    layer = f"{_hex(_digest(image.layers[0]))}.tar.gz"
    # In a layer's bytes, in a header, and just before manifest.json.
    for cut in (offsets[layer] + 10, offsets[layer] - 100, offsets["manifest.json"] - 512):
        (tmp_path / "cut").write_bytes(full[:cut])
        assert check(tmp_path / "cut", image.parts) is not None, cut
    (tmp_path / "empty").write_bytes(b"")
    assert check(tmp_path / "empty", image.parts) is not None


# ------------------------------------------------------------------------ copy_base


def test_copy_base_copies_a_valid_entry(dirs: Callable[[str], tuple[Path, int]]) -> None:
    image = make_image()
    src_path, src = dirs("src")
    dst_path, dst = dirs("dst")
    put_entry(src_path, image)
    size = copy_base(src, image.digest, dst, None, BIG, Copier())
    assert size == image.parts.size
    assert sorted(os.listdir(dst_path)) == [image.digest, f"{image.digest}.json"]
    assert (dst_path / f"{image.digest}.json").read_bytes() == image.manifest
    assert (dst_path / image.digest).read_bytes() == (src_path / image.digest).read_bytes()
    assert check(dst_path / image.digest, image.parts) is None
    assert (dst_path / image.digest).stat().st_mode & 0o7777 == 0o644
    # The source is untouched.
    assert sorted(os.listdir(src_path)) == [image.digest, f"{image.digest}.json"]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_copy_base_gives_the_copy_its_owner(dirs: Callable[[str], tuple[Path, int]]) -> None:
    image = make_image()
    src_path, src = dirs("src")
    dst_path, dst = dirs("dst")
    put_entry(src_path, image)
    copy_base(src, image.digest, dst, OWNER, BIG, Copier())
    for name in (image.digest, f"{image.digest}.json"):
        st = os.lstat(dst_path / name)
        assert (st.st_uid, st.st_gid) == OWNER, name
    # Without an owner, the files stay the caller's.
    other_path, other = dirs("other")
    copy_base(src, image.digest, other, None, BIG, Copier())
    st = os.lstat(other_path / image.digest)
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())


def _truncate(src: Path, image: Image) -> None:
    path = src / image.digest
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(src: Path, image: Image) -> None:
    path = src / image.digest
    data = bytearray(path.read_bytes())
    with tarfile.open(path) as tar:
        offset = tar.getmember(f"{_hex(_digest(image.layers[0]))}.tar.gz").offset_data
    data[offset + 5] ^= 0xFF
    path.write_bytes(bytes(data))


def _misnamed_json(src: Path, image: Image) -> None:
    (src / f"{image.digest}.json").write_bytes(image.manifest + b" ")


def _symlinked_tarball(src: Path, image: Image) -> None:
    path = src / image.digest
    path.rename(src / "real")
    path.symlink_to("real")


def _symlinked_json(src: Path, image: Image) -> None:
    path = src / f"{image.digest}.json"
    path.rename(src / "real.json")
    path.symlink_to("real.json")


def _no_tarball(src: Path, image: Image) -> None:
    (src / image.digest).unlink()


def _no_json(src: Path, image: Image) -> None:
    (src / f"{image.digest}.json").unlink()


def _tarball_a_directory(src: Path, image: Image) -> None:
    (src / image.digest).unlink()
    (src / image.digest).mkdir()


def _grown(src: Path, image: Image) -> None:
    with open(src / image.digest, "ab") as f:
        f.write(b"\0" * (2 << 20))


SPOIL: dict[str, tuple[Callable[[Path, Image], None], str]] = {
    "truncated": (_truncate, "not a readable tarball"),
    "a byte changed": (_flip, "does not have the digest"),
    "json not its digest": (_misnamed_json, "does not have that digest"),
    "tarball a symlink": (_symlinked_tarball, "is a symbolic link"),
    "json a symlink": (_symlinked_json, "is a symbolic link"),
    "tarball missing": (_no_tarball, "is missing"),
    "json missing": (_no_json, ".json is missing"),
    "tarball a directory": (_tarball_a_directory, "is not a regular file"),
    "tarball far too large": (_grown, "bytes, more than"),
}


@pytest.mark.parametrize("case", sorted(SPOIL))
def test_copy_base_refuses_a_spoiled_source_and_leaves_nothing(
    dirs: Callable[[str], tuple[Path, int]], case: str
) -> None:
    image = make_image()
    src_path, src = dirs("src")
    dst_path, dst = dirs("dst")
    put_entry(src_path, image)
    spoil, why = SPOIL[case]
    spoil(src_path, image)
    with pytest.raises(Uncacheable, match=why):
        copy_base(src, image.digest, dst, OWNER, BIG, Copier())
    assert os.listdir(dst_path) == []


def test_copy_base_refuses_layers_the_cache_cannot_hold(
    dirs: Callable[[str], tuple[Path, int]],
) -> None:
    bad = make_image(media="application/vnd.oci.image.layer.v1.tar+zstd")
    src_path, src = dirs("src")
    dst_path, dst = dirs("dst")
    (src_path / f"{bad.digest}.json").write_bytes(bad.manifest)
    (src_path / bad.digest).write_bytes(b"")
    with pytest.raises(Uncacheable, match="not a gzip tarball"):
        copy_base(src, bad.digest, dst, None, BIG, Copier())
    assert os.listdir(dst_path) == []


def test_copy_base_respects_its_limit(dirs: Callable[[str], tuple[Path, int]]) -> None:
    image = make_image()
    src_path, src = dirs("src")
    dst_path, dst = dirs("dst")
    put_entry(src_path, image)
    with pytest.raises(Uncacheable, match="more than"):
        copy_base(src, image.digest, dst, None, image.parts.size - 1, Copier())
    assert os.listdir(dst_path) == []
    assert copy_base(src, image.digest, dst, None, image.parts.size, Copier()) == image.parts.size


# ------------------------------------------------------------------------ BasesPacker


def test_packer_copies_keeps_skips_and_leaves_out(
    dirs: Callable[[str], tuple[Path, int]],
) -> None:
    present, new, spoiled = make_image("present"), make_image("new"), make_image("spoiled")
    chroot_path, chroot = dirs("chroot")
    target_path, target = dirs("target")
    for image in (present, new, spoiled):
        put_entry(chroot_path, image)
    _flip(chroot_path, spoiled)
    (target_path / BASE_IMAGES_DIR).mkdir()
    kept_before = put_entry(target_path / BASE_IMAGES_DIR, present)
    inode = kept_before.stat().st_ino
    packer = BasesPacker(
        chroot, [present.digest, new.digest, "busybox:latest", spoiled.digest, new.digest], OWNER
    )
    packer(target)
    names = sorted(os.listdir(target_path / BASE_IMAGES_DIR))
    assert names == sorted(
        [present.digest, f"{present.digest}.json", new.digest, f"{new.digest}.json"]
    )
    assert kept_before.stat().st_ino == inode  # kept, not copied again
    assert check(target_path / BASE_IMAGES_DIR / new.digest, new.parts) is None
    assert packer.kept == 2
    assert [d for d, _ in packer.left_out] == [spoiled.digest]
    assert "does not have the digest" in packer.left_out[0][1]
    assert packer.size == kept_before.stat().st_size + new.parts.size
    assert cached_digests(target_path) == tuple(sorted([present.digest, new.digest]))
    if os.geteuid() == 0:
        st = os.lstat(target_path / BASE_IMAGES_DIR / new.digest)
        assert (st.st_uid, st.st_gid) == OWNER


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_packer_makes_base_images_for_the_owner(dirs: Callable[[str], tuple[Path, int]]) -> None:
    image = make_image()
    chroot_path, chroot = dirs("chroot")
    target_path, target = dirs("target")
    put_entry(chroot_path, image)
    BasesPacker(chroot, [image.digest], OWNER)(target)
    st = os.lstat(target_path / BASE_IMAGES_DIR)
    assert (st.st_uid, st.st_gid) == OWNER
    for name in os.listdir(target_path / BASE_IMAGES_DIR):
        st = os.lstat(target_path / BASE_IMAGES_DIR / name)
        assert (st.st_uid, st.st_gid) == OWNER, name


def test_packer_without_digests_makes_nothing(dirs: Callable[[str], tuple[Path, int]]) -> None:
    _, chroot = dirs("chroot")
    target_path, target = dirs("target")
    packer = BasesPacker(chroot, ["not-a-digest", "sha256:short"], OWNER)
    packer(target)
    assert os.listdir(target_path) == []
    assert (packer.kept, packer.left_out) == (0, ())
    assert cached_digests(target_path) == ()


def test_packer_stops_at_max_base_bytes(
    dirs: Callable[[str], tuple[Path, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = make_image("first"), make_image("second")
    chroot_path, chroot = dirs("chroot")
    target_path, target = dirs("target")
    put_entry(chroot_path, first)
    put_entry(chroot_path, second)
    monkeypatch.setattr(base_images, "MAX_BASE_BYTES", first.parts.size + 10)
    packer = BasesPacker(chroot, [first.digest, second.digest], OWNER)
    packer(target)
    assert packer.kept == 1
    assert [d for d, _ in packer.left_out] == [second.digest]
    assert "more than the 10 left" in packer.left_out[0][1]
    assert cached_digests(target_path) == (first.digest,)
    assert sorted(os.listdir(target_path / BASE_IMAGES_DIR)) == [
        first.digest,
        f"{first.digest}.json",
    ]


def test_cached_digests_lists_only_digest_names(tmp_path: Path) -> None:
    assert cached_digests(tmp_path) == ()
    (tmp_path / BASE_IMAGES_DIR).mkdir()
    digest = "sha256:" + "a" * 64
    for name in (digest, f"{digest}.json", ".tmp", "sha256:abc", "latest"):
        (tmp_path / BASE_IMAGES_DIR / name).write_bytes(b"")
    assert cached_digests(tmp_path) == (digest,)


# ------------------------------------------------- pull_base, stage_base, resolve_base


def client_for(registry: Registry) -> RegistryClient:
    return RegistryClient(RegistryTrust(insecure=frozenset({registry.host})))


@pytest.fixture(scope="module")
def small(registry: Registry) -> dict[str, str]:
    """A small image of three layers (the first twice) for two platforms, and an OCI index."""
    client = registry.client()
    layers = [_tar("one", b"one" * 50), _tar("two", b"two"), _tar("one", b"one" * 50)]
    digests = {
        str(p): client.push_image("cache/small", f"1-{p.arch}", layers, platform=str(p))
        for p in (AMD64, ARM64)
    }
    digests["index"] = client.push_index(
        "cache/small", "1", [(str(p), digests[str(p)]) for p in (AMD64, ARM64)], oci=True
    )
    return digests


def _tar(name: str, text: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    return buf.getvalue()


def _staged_ok(directory: Path, registry: Registry, repo: str, digest: str) -> None:
    assert sorted(os.listdir(directory)) == [digest, f"{digest}.json"]
    manifest = (directory / f"{digest}.json").read_bytes()
    assert _digest(manifest) == digest
    parts = image_parts(manifest)
    assert check(directory / digest, parts) is None
    with tarfile.open(directory / digest) as tar:
        for blob in dict.fromkeys(parts.layers):
            member = tar.extractfile(parts.member(blob))
            assert member is not None
            assert member.read() == registry.client().get_blob(repo, blob.digest)


@pytest.mark.e2e
def test_stage_base_pulls_then_reads_cache_from(
    registry: Registry, small: dict[str, str], dirs: Callable[[str], tuple[Path, int]]
) -> None:
    client = client_for(registry)
    ref = registry.ref("cache/small", "1-amd64")
    chroot_path, chroot = dirs("chroot")
    staged = stage_base(client, ref, AMD64, chroot, None, BIG, Copier())
    digest = small[str(AMD64)]
    assert (staged.image, staged.digest, staged.source, staged.unusable) == (
        ref,
        digest,
        "pulled",
        None,
    )
    _staged_ok(chroot_path, registry, "cache/small", digest)
    manifest = (chroot_path / f"{digest}.json").read_bytes()
    assert staged.size == image_parts(manifest).size
    assert len(image_parts(manifest).layers) == 3  # the first layer twice
    with tarfile.open(chroot_path / digest) as tar:
        assert len(tar.getnames()) == 4  # config, two layers, manifest.json

    # Already in the chroot's cache (the cache-dir input).
    again = stage_base(client, ref, AMD64, chroot, None, BIG, Copier())
    assert (again.source, again.digest) == ("cache-dir", digest)

    # cache-from's base-images/, as BasesPacker writes it, is read instead of the registry.
    cache_path, cache = dirs("cache")
    BasesPacker(chroot, [digest], OWNER)(cache)
    second_path, second = dirs("second")
    staged = stage_base(client, ref, AMD64, second, cache_path, BIG, Copier())
    assert (staged.digest, staged.source, staged.unusable) == (digest, "cache-from", None)
    _staged_ok(second_path, registry, "cache/small", digest)

    # Pinned by digest and in cache-from: no request at all (the registry is unreachable).
    third_path, third = dirs("third")
    pinned = f"127.0.0.1:9/cache/small@{digest}"
    staged = stage_base(client, pinned, AMD64, third, cache_path, BIG, Copier())
    assert (staged.digest, staged.source) == (digest, "cache-from")
    assert sorted(os.listdir(third_path)) == [digest, f"{digest}.json"]


@pytest.mark.e2e
def test_stage_base_pulls_over_a_spoiled_cache_from(
    registry: Registry, small: dict[str, str], dirs: Callable[[str], tuple[Path, int]]
) -> None:
    client = client_for(registry)
    ref = registry.ref("cache/small", "1-amd64")
    digest = small[str(AMD64)]
    _, first = dirs("first")
    stage_base(client, ref, AMD64, first, None, BIG, Copier())
    cache_path, cache = dirs("cache")
    BasesPacker(first, [digest], OWNER)(cache)
    tarball = cache_path / BASE_IMAGES_DIR / digest
    tarball.write_bytes(tarball.read_bytes()[:-2000])
    chroot_path, chroot = dirs("chroot")
    staged = stage_base(client, ref, AMD64, chroot, cache_path, BIG, Copier())
    assert staged.source == "pulled"
    assert staged.unusable is not None and digest in staged.unusable
    _staged_ok(chroot_path, registry, "cache/small", digest)


@pytest.mark.e2e
def test_an_index_resolves_to_the_platforms_manifest(
    registry: Registry, small: dict[str, str], dirs: Callable[[str], tuple[Path, int]]
) -> None:
    client = client_for(registry)
    ref = registry.ref("cache/small", "1")
    found = resolve_base(client, ref, ARM64)
    assert found == (registry.host, "cache/small", small[str(ARM64)], None)
    assert small[str(ARM64)] != small[str(AMD64)] != small["index"]
    chroot_path, chroot = dirs("chroot")
    staged = stage_base(client, ref, ARM64, chroot, None, BIG, Copier())
    assert (staged.digest, staged.source) == (small[str(ARM64)], "pulled")
    _staged_ok(chroot_path, registry, "cache/small", small[str(ARM64)])
    config = json.loads(
        registry.client().get_blob(
            "cache/small",
            image_parts((chroot_path / f"{staged.digest}.json").read_bytes()).config.digest,
        )
    )
    assert config["architecture"] == "arm64"

    # A single manifest: its own digest and body, whatever the platform asked for.
    registry_, repository, digest, body = resolve_base(
        client, registry.ref("cache/small", "1-amd64"), ARM64
    )
    assert (registry_, repository, digest) == (registry.host, "cache/small", small[str(AMD64)])
    assert body is not None and _digest(body) == digest

    with pytest.raises(Uncacheable, match="no image for linux/s390x"):
        stage_base(client, ref, Platform("linux", "s390x"), chroot, None, BIG, Copier())
    with pytest.raises(Uncacheable, match="not an image reference"):
        resolve_base(client, "UPPER/Case:tag", AMD64)


@pytest.mark.e2e
def test_stage_base_pulls_busybox(
    registry: Registry, dirs: Callable[[str], tuple[Path, int]]
) -> None:
    digest = push_busybox(registry, "cache/busybox", "1")
    chroot_path, chroot = dirs("chroot")
    staged = stage_base(
        client_for(registry), registry.ref("cache/busybox", "1"), AMD64, chroot, None, BIG, Copier()
    )
    assert (staged.digest, staged.source) == (digest, "pulled")
    _staged_ok(chroot_path, registry, "cache/busybox", digest)
    manifest = json.loads((chroot_path / f"{digest}.json").read_bytes())
    assert manifest["mediaType"] == DOCKER_MANIFEST


@pytest.mark.e2e
def test_pull_base_leaves_nothing_when_it_fails(
    registry: Registry, small: dict[str, str], dirs: Callable[[str], tuple[Path, int]]
) -> None:
    client = client_for(registry)
    digest = small[str(AMD64)]
    manifest = registry.client().get_manifest_bytes("cache/small", digest)[1]
    size = image_parts(manifest).size
    chroot_path, chroot = dirs("chroot")
    with pytest.raises(Uncacheable, match="more than"):
        pull_base(client, registry.host, "cache/small", digest, manifest, chroot, size - 1)
    with pytest.raises(Uncacheable, match="does not have that digest"):
        pull_base(client, registry.host, "cache/small", digest, manifest + b"\n", chroot, BIG)
    assert os.listdir(chroot_path) == []
    # A layer the registry does not have: the request fails and no file is left.
    missing = make_image("missing")
    with pytest.raises(RegistryRequestError):
        pull_base(
            client, registry.host, "cache/small", missing.digest, missing.manifest, chroot, BIG
        )
    assert os.listdir(chroot_path) == []
    assert pull_base(client, registry.host, "cache/small", digest, manifest, chroot, size) == size
    _staged_ok(chroot_path, registry, "cache/small", digest)


# ------------------------------------------------------------------------ pulled_bases


def plan_of(text: str, target: Platform = AMD64) -> list[tuple[str, Platform]]:
    return bases_of(text, {}, target)


def bases_of(
    text: str, pinned: dict[int, str], target: Platform = AMD64
) -> list[tuple[str, Platform]]:
    instructions = parse(text)
    values = {**meta_args(instructions, {}), **predefined_args(AMD64, target)}
    return pulled_bases(stage_platforms(stages(instructions, values), target, None), pinned)


def test_pulled_bases_skip_stages_and_scratch_and_repeat_none() -> None:
    text = (
        "FROM golang:1.22 AS build\nRUN make\n"
        "FROM build AS test\nRUN make test\n"
        "FROM Scratch AS empty\n"
        "FROM scratch\n"
        "FROM golang:1.22\n"
        "FROM alpine:3.20\nCOPY --from=build /app /app\n"
    )
    assert plan_of(text) == [("golang:1.22", AMD64), ("alpine:3.20", AMD64)]


def test_pulled_bases_per_platform_and_pinned() -> None:
    text = (
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n"
        "FROM alpine:3.20\n"
        "FROM alpine:3.20 AS again\n"
    )
    assert plan_of(text, ARM64) == [("golang:1.22", AMD64), ("alpine:3.20", ARM64)]
    pin = "golang@sha256:" + "1" * 64
    assert bases_of(text, {0: pin}, ARM64) == [(pin, AMD64), ("alpine:3.20", ARM64)]
    # Pinning one of two stages on the same image makes two bases.
    other = "alpine@sha256:" + "2" * 64
    assert bases_of(text, {2: other}, ARM64) == [
        ("golang:1.22", AMD64),
        ("alpine:3.20", ARM64),
        (other, ARM64),
    ]


def test_pulled_bases_of_an_arg_base() -> None:
    text = "ARG BASE=debian:bookworm\nFROM ${BASE}\nFROM ${EMPTY}\n"
    assert plan_of(text) == [("debian:bookworm", AMD64)]


# ------------------------------------------------------------------------ kaniko's log


def test_log_names_bases_found_in_kaniko_cache() -> None:
    one, two = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    watcher = LogWatcher()
    for line in (
        f"INFO[0000] Found {one} in local cache",
        f"\x1b[36mINFO\x1b[0m[0001] Found {two} in local cache",
        f"INFO[0002] Found {one} in local cache",
        f"INFO[0003] Found sha256:{'c' * 63} in local cache",  # too short
        f"INFO[0004] Found {'d' * 64} in local cache",  # no algorithm
        f"RUN echo Found {'e' * 64} in local cache",
        f"INFO[0005] Image {one} not found in local cache",
    ):
        watcher.feed(line)
    assert watcher.facts().cached_bases == frozenset({one, two})
    assert LogWatcher().facts().cached_bases == frozenset()
