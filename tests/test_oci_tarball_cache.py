"""kaniko's base-image cache format (oci/tarball.py): the tarball the action writes is what
it checks, and a tarball that is not exactly the image its manifest describes is refused."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import pytest

from kaniko_action.oci.tarball import (
    Blob,
    ImageParts,
    TarballWriter,
    Uncacheable,
    check_tarball,
    image_parts,
)

GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _image() -> tuple[bytes, dict[str, bytes], ImageParts]:
    config = b'{"architecture":"amd64","os":"linux"}'
    layers = [gzip.compress(b"layer one" * 100), gzip.compress(b"layer two")]
    blobs = {_digest(b): b for b in [config, *layers]}
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"digest": _digest(config), "size": len(config)},
            "layers": [
                {"mediaType": GZIP_LAYER, "digest": _digest(b), "size": len(b)} for b in layers
            ],
        }
    ).encode()
    return manifest, blobs, image_parts(manifest)


def _write(parts: ImageParts, blobs: dict[str, bytes], path: Path) -> None:
    with open(path, "wb") as out:
        writer = TarballWriter(out)
        for blob in dict.fromkeys((parts.config, *parts.layers)):
            data = blobs[blob.digest]

            def fill(o: BinaryIO, data: bytes = data) -> None:
                o.write(data)

            writer.add(parts.member(blob), blob.size, fill)
        writer.finish(parts)


def test_the_written_tarball_is_go_containerregistrys_layout_and_passes(tmp_path: Path) -> None:
    _, blobs, parts = _image()
    path = tmp_path / "image"
    _write(parts, blobs, path)
    with tarfile.open(path) as tar:
        names = tar.getnames()
        listed = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    config_hex = parts.config.digest.split(":")[1]
    assert names[0] == f"sha256:{config_hex}"
    assert names[1:3] == [f"{b.digest.split(':')[1]}.tar.gz" for b in parts.layers]
    assert listed == [{"Config": names[0], "RepoTags": [], "Layers": names[1:3]}]
    with open(path, "rb") as f:
        assert check_tarball(f, parts) is None


def _tar(members: Sequence[tuple[tarfile.TarInfo, bytes | None]]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    buffer.seek(0)
    return buffer


def _members(parts: ImageParts, blobs: dict[str, bytes]) -> list[tuple[tarfile.TarInfo, bytes]]:
    found = []
    for blob in (parts.config, *parts.layers):
        info = tarfile.TarInfo(parts.member(blob))
        info.size = blob.size
        found.append((info, blobs[blob.digest]))
    listing = parts.manifest_json()
    info = tarfile.TarInfo("manifest.json")
    info.size = len(listing)
    found.append((info, listing))
    return found


def test_an_exact_tarball_passes_and_every_spoiled_one_is_refused(tmp_path: Path) -> None:
    _, blobs, parts = _image()
    members = _members(parts, blobs)
    assert check_tarball(_tar(members), parts) is None

    spoiled = list(members)
    info, data = spoiled[1]
    spoiled[1] = (info, bytes([data[0] ^ 1]) + data[1:])  # same size, other content
    assert "digest" in str(check_tarball(_tar(spoiled), parts))

    extra = tarfile.TarInfo("etc/passwd")
    extra.size = 1
    assert "not a part" in str(check_tarball(_tar([*members, (extra, b"x")]), parts))

    link = tarfile.TarInfo(members[2][0].name)
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/shadow"
    assert "regular" in str(check_tarball(_tar([*members[:2], (link, None), members[3]]), parts))

    assert "missing" in str(check_tarball(_tar([members[0], members[1], members[3]]), parts))
    assert "one regular member" in str(check_tarball(_tar([*members, members[1]]), parts))

    reordered = json.loads(parts.manifest_json())
    reordered[0]["Layers"].reverse()
    listing = json.dumps(reordered).encode()
    info = tarfile.TarInfo("manifest.json")
    info.size = len(listing)
    assert "does not list" in str(check_tarball(_tar([*members[:3], (info, listing)]), parts))

    # Cut short (a cache restore that stopped): the members end inside a layer.
    path = tmp_path / "image"
    _write(parts, blobs, path)
    whole = path.read_bytes()
    for end in (512 + parts.config.size + 512 + 100, len(whole) - 1024 - 10):
        assert check_tarball(io.BytesIO(whole[:end]), parts) is not None, end


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (
            lambda m: m["layers"][0].update(
                mediaType="application/vnd.oci.image.layer.v1.tar+zstd"
            ),
            "gzip",
        ),
        (lambda m: m["layers"][0].update(urls=["https://example.invalid/l"]), "gzip"),
        (lambda m: m["layers"][0].pop("size"), "size"),
        (lambda m: m["config"].update(digest="sha512:00"), "sha256"),
        (lambda m: m.update(schemaVersion=1), "schema 2"),
    ],
)
def test_images_the_cache_cannot_hold_as_they_are(change: object, why: str) -> None:
    manifest, _, _ = _image()
    data = json.loads(manifest)
    change(data)  # type: ignore[operator]
    with pytest.raises(Uncacheable, match=why):
        image_parts(json.dumps(data).encode())


def test_a_layer_twice_is_one_member_listed_twice() -> None:
    layer = Blob(_digest(b"l"), 1)
    parts = ImageParts(Blob(_digest(b"c"), 1), (layer, layer))
    assert parts.size == 2
    assert json.loads(parts.manifest_json())[0]["Layers"] == [parts.member(layer)] * 2
