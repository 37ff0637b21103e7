"""Cache mounts out of a finished chroot and into a new one (staging/cache_mounts.py): links
stay links, nothing is followed or lands outside, fifos are left out, owners kept, and a
caches directory the build replaced by a link is not read. Every "outside" here is the
test's own directory."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path, PurePosixPath

import pytest

from kaniko_action.staging import cache_mounts
from kaniko_action.staging.cache_mounts import MOUNTS_FILE, MountsPacker, restore_mounts

CACHES = PurePosixPath("/.kaniko-build/caches")
OWNER = (1001, 1001)


def _chroot(tmp_path: Path) -> Path:
    chroot = tmp_path / "chroot"
    mount = chroot / ".kaniko-build" / "caches" / ("a" * 64)
    (mount / "lists").mkdir(parents=True)
    (mount / "lists" / "index").write_text("packages\n")
    os.chown(mount / "lists" / "index", 123, 456)
    (mount / "escape").symlink_to("/etc")
    os.mkfifo(mount / "pipe")
    return chroot


def _pack(chroot: Path, target: Path) -> MountsPacker:
    target.mkdir()
    packer = MountsPacker(chroot, CACHES, OWNER)
    fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
    try:
        packer(fd)
    finally:
        os.close(fd)
    return packer


def test_packed_then_restored_with_links_as_links_and_owners_kept(tmp_path: Path) -> None:
    packer = _pack(_chroot(tmp_path), tmp_path / "cache")
    tarball = tmp_path / "cache" / MOUNTS_FILE
    st = os.lstat(tarball)
    assert (packer.packed, packer.problem) == (len("packages\n"), None)
    assert ((st.st_uid, st.st_gid), st.st_mode & 0o777) == (OWNER, 0o644)

    caches = tmp_path / "new-chroot" / "caches"
    assert restore_mounts(tmp_path / "cache", caches) == 0
    mount = caches / ("a" * 64)
    index = mount / "lists" / "index"
    assert index.read_text() == "packages\n"
    assert (os.lstat(index).st_uid, os.lstat(index).st_gid) == (123, 456)
    assert os.readlink(mount / "escape") == "/etc"
    assert not os.path.lexists(mount / "pipe")


def test_nothing_to_keep_writes_nothing(tmp_path: Path) -> None:
    chroot = tmp_path / "chroot"
    (chroot / ".kaniko-build" / "caches").mkdir(parents=True)
    assert (_pack(chroot, tmp_path / "cache").packed, _pack(chroot, tmp_path / "c2").problem) == (
        None,
        None,
    )
    assert os.listdir(tmp_path / "cache") == []
    assert restore_mounts(tmp_path / "cache", tmp_path / "caches") is None


def test_a_caches_directory_replaced_by_a_link_is_not_read(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "secret").write_text("host file\n")
    chroot = tmp_path / "chroot"
    (chroot / ".kaniko-build").mkdir(parents=True)
    (chroot / ".kaniko-build" / "caches").symlink_to(victim)
    packer = _pack(chroot, tmp_path / "cache")
    assert packer.packed is None and packer.problem is not None
    assert "symbolic links" in packer.problem or "Not a directory" in packer.problem
    assert os.listdir(tmp_path / "cache") == []


def _tarball(directory: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> None:
    directory.mkdir()
    with tarfile.open(directory / MOUNTS_FILE, "w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def _member(
    name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = ""
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


def test_a_hostile_tarball_writes_nothing_outside(tmp_path: Path) -> None:
    """A cache written by an untrusted build: a link, then a file through it; `..`; an
    absolute name; a device node."""
    victim = tmp_path / "victim"
    victim.mkdir()
    _tarball(tmp_path / "cache", [
        _member("m/out", tarfile.SYMTYPE, link=str(victim)),
        _member("m/out/pwned", data=b"x"),
        _member("../pwned", data=b"x"),
        _member(f"{victim}/pwned", data=b"x"),
        _member("m/null", tarfile.CHRTYPE),
        _member("m/kept", data=b"kept\n"),
    ])  # fmt: skip
    caches = tmp_path / "chroot" / "caches"
    left_out = restore_mounts(tmp_path / "cache", caches)
    assert os.listdir(victim) == []
    assert not (tmp_path / "chroot" / "pwned").exists() and not (tmp_path / "pwned").exists()
    assert (caches / "m" / "kept").read_text() == "kept\n"
    assert not os.path.lexists(caches / "m" / "null")
    assert left_out is not None and left_out >= 3


def test_more_than_the_limit_is_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_mounts, "MAX_MOUNTS_BYTES", 4)
    packer = _pack(_chroot(tmp_path), tmp_path / "cache")
    assert packer.problem == "the cache mounts hold more than 0 GiB; not kept"
    assert os.listdir(tmp_path / "cache") == []


def test_a_tarball_that_is_a_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "elsewhere.tar").write_bytes(b"")
    (tmp_path / "cache" / MOUNTS_FILE).symlink_to(tmp_path / "elsewhere.tar")
    with pytest.raises(OSError, match="symbolic link"):
        restore_mounts(tmp_path / "cache", tmp_path / "caches")
