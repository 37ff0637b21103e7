"""A local layer cache copied in and out (kaniko_action/staging/layer_cache.py): entries
are checked as they are copied, and one that fails a check is left out, never followed,
never blocking, never failing the build; the written cache belongs to the workspace's owner.

No executor here: tests/test_e2e_cache.py builds with the real ones."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from kaniko_action.spec.paths import LAYER_CACHE_MARKER
from kaniko_action.staging.layer_cache import collect_layer_cache, stage_layer_cache
from kaniko_action.utils.fs import DIR_FLAGS

OWNER = (1001, 1001)


def _blob(entry: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (entry / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (entry / "blobs" / "sha256" / digest).write_bytes(data)
    return digest


def make_entry(base: Path, seed: str) -> tuple[str, Path]:
    """A cache entry as kaniko writes one: an OCI layout of one image of one layer."""
    key = hashlib.sha256(seed.encode()).hexdigest()
    entry = base / f"kaniko:{key}"
    entry.mkdir(parents=True)
    (entry / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    layer = _blob(entry, f"layer of {seed}".encode())
    config = _blob(entry, b'{"rootfs": {}}')
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "config": {"digest": f"sha256:{config}", "size": 14},
            "layers": [{"digest": f"sha256:{layer}", "size": 10}],
        }
    ).encode()
    digest = _blob(entry, manifest)
    (entry / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "manifests": [{"digest": f"sha256:{digest}"}]})
    )
    return key, entry


def collect(chroot: Path, dest: Path, keys: set[str], merge: bool = False):  # type: ignore[no-untyped-def]
    fd = os.open(chroot, DIR_FLAGS)
    try:
        return collect_layer_cache(fd, dest, OWNER, keys, merge=merge)
    finally:
        os.close(fd)


def test_entries_go_in_and_out_and_only_those_the_build_used_are_kept(tmp_path: Path) -> None:
    src = tmp_path / "src"
    used, _ = make_entry(src, "used")
    stale, _ = make_entry(src, "stale")
    chroot = tmp_path / "chroot" / "layer-cache"
    copied = stage_layer_cache(src, chroot)
    assert copied is not None and sorted(copied.keys) == sorted([used, stale])
    assert copied.left_out == ()
    new, _ = make_entry(chroot, "made by the build")
    dest = tmp_path / "cache" / "new"
    out = collect(chroot, dest, {used, new})
    assert sorted(out.keys) == sorted([used, new]) and out.left_out == ()
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [f"kaniko:{used}", f"kaniko:{new}", LAYER_CACHE_MARKER]
    )
    for path in [dest.parent, dest, *dest.rglob("*")]:
        st = os.lstat(path)
        assert (st.st_uid, st.st_gid) == OWNER, path
    # Written again: replaced whole, nothing left beside it.
    again = collect(chroot, dest, {new})
    assert again.keys == (new,)
    assert sorted(p.name for p in dest.iterdir()) == sorted([f"kaniko:{new}", LAYER_CACHE_MARKER])
    assert sorted(p.name for p in dest.parent.iterdir()) == ["new"]
    # Merged (a later platform): added to what is there.
    merged = collect(chroot, dest, {used}, merge=True)
    assert merged.keys == (used,)
    assert len([p for p in dest.iterdir() if p.name.startswith("kaniko:")]) == 2


def _spoil(entry: Path, how: str, outside: Path) -> None:
    blobs = entry / "blobs" / "sha256"
    first = sorted(blobs.iterdir())[0]
    if how == "truncated blob":
        first.write_bytes(first.read_bytes()[:-1])
    elif how == "blob is a link":
        first.unlink()
        os.symlink(outside, first)
    elif how == "blob is a fifo":
        first.unlink()
        os.mkfifo(first)
    elif how == "extra file":
        (entry / "evil").write_text("x")
    elif how == "manifest blob missing":
        index = json.loads((entry / "index.json").read_text())
        (blobs / index["manifests"][0]["digest"].split(":")[1]).unlink()
    elif how == "index is not json":
        (entry / "index.json").write_text("{")
    elif how == "entry is a link":
        target = outside.parent / f"elsewhere-{entry.parent.name}"
        entry.rename(target)
        os.symlink(target, entry)
    elif how == "blobs is a link":
        moved = outside.parent / f"blobs-{entry.parent.name}"
        (entry / "blobs").rename(moved)
        os.symlink(moved, entry / "blobs")


SPOILS = [
    "truncated blob",
    "blob is a link",
    "blob is a fifo",
    "extra file",
    "manifest blob missing",
    "index is not json",
    "entry is a link",
    "blobs is a link",
]


@pytest.mark.parametrize("how", SPOILS)
def test_a_spoiled_entry_is_left_out_both_ways(tmp_path: Path, how: str) -> None:
    outside = tmp_path / "root-only"
    outside.write_text("SECRET")
    outside.chmod(0o600)
    src = tmp_path / "src"
    good, _ = make_entry(src, "good")
    bad, entry = make_entry(src, "bad")
    _spoil(entry, how, outside)
    chroot = tmp_path / "chroot"
    copied = stage_layer_cache(src, chroot)
    assert copied is not None and copied.keys == (good,)
    assert [name for name, _why in copied.left_out] == [f"kaniko:{bad}"]
    assert sorted(p.name for p in chroot.iterdir()) == [f"kaniko:{good}"]
    warning = copied.describe("input 'cache-from'")
    assert warning is not None and warning.startswith("1 layer cache entry of input")
    # The same entry made in the chroot by a RUN step: not written to the runner.
    dest = tmp_path / "dest"
    chroot_bad = tmp_path / "chroot2"
    chroot_bad.mkdir()
    _, entry2 = make_entry(chroot_bad, "bad")
    _spoil(entry2, how, outside)
    out = collect(chroot_bad, dest, {bad})
    assert out.keys == () and len(out.left_out) == 1
    assert [p.name for p in dest.iterdir()] == [LAYER_CACHE_MARKER]
    assert "SECRET" not in "".join(
        p.read_text(errors="replace") for p in dest.rglob("*") if p.is_file()
    )


def test_a_missing_source_is_a_first_run(tmp_path: Path) -> None:
    assert stage_layer_cache(tmp_path / "absent", tmp_path / "chroot") is None


def test_a_directory_that_is_not_a_cache_is_never_replaced(tmp_path: Path) -> None:
    chroot = tmp_path / "chroot"
    key, _ = make_entry(chroot, "x")
    dest = tmp_path / "project"
    dest.mkdir()
    (dest / "main.c").write_text("int main;")
    out = collect(chroot, dest, {key})
    assert out.keys == () and "not a kaniko-build cache" in out.left_out[0][1]
    assert [p.name for p in dest.iterdir()] == ["main.c"]
