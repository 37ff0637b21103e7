"""Applying an image's layers onto a directory (`outputs` type=local and type=tar) from
hand-made hostile layer tarballs: nothing lands outside the directory, no link is followed,
no device node or setuid bit reaches the runner, and whiteouts work."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from kaniko_action.staging.rootfs import Applied, LayerApplier, pack_tree
from kaniko_action.utils.fs import DIR_FLAGS


@dataclass(frozen=True)
class Entry:
    """One member of a hand-made layer."""

    name: str
    kind: bytes = tarfile.REGTYPE
    data: bytes = b""
    link: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 1_600_000_000


def F(name: str, data: bytes = b"x", **kw: int) -> Entry:
    return Entry(name, tarfile.REGTYPE, data, **kw)  # type: ignore[arg-type]


def D(name: str, **kw: int) -> Entry:
    return Entry(name, tarfile.DIRTYPE, mode=kw.pop("mode", 0o755), **kw)  # type: ignore[arg-type]


def S(name: str, target: str) -> Entry:
    return Entry(name, tarfile.SYMTYPE, link=target, mode=0o777)


def H(name: str, target: str) -> Entry:
    return Entry(name, tarfile.LNKTYPE, link=target)


def layer(entries: Sequence[Entry], compress: bool = True) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf, mode="w:gz" if compress else "w", format=tarfile.PAX_FORMAT
    ) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = e.kind
            info.mode, info.uid, info.gid, info.mtime = e.mode, e.uid, e.gid, e.mtime
            info.linkname = e.link
            if e.kind == tarfile.REGTYPE:
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                tar.addfile(info)
    buf.seek(0)
    return buf


def apply(
    dest: Path,
    *layers: Sequence[Entry],
    owner: tuple[int, int] | None = (1001, 1002),
    writable_dirs: bool = True,
    compress: bool = True,
) -> Applied:
    dest.mkdir(exist_ok=True)
    fd = os.open(dest, DIR_FLAGS)
    try:
        applier = LayerApplier(fd, owner, writable_dirs)
        for entries in layers:
            applier.apply(layer(entries, compress))
        return applier.finish()
    finally:
        os.close(fd)


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "dest"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A runner directory outside `dest` that a hostile layer aims at."""
    path = tmp_path / "victim"
    path.mkdir()
    (path / "file").write_text("runner file\n")
    return path


def tree(top: Path) -> dict[str, str]:
    """Every entry below `top`: its type, and a link's target or a file's content."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(top))
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                found[rel] = "-> " + os.readlink(path)
            elif stat.S_ISDIR(mode):
                found[rel] = "dir"
            else:
                found[rel] = path.read_text()
    return found


def assert_untouched(victim: Path) -> None:
    assert tree(victim) == {"file": "runner file\n"}


def test_layers_are_applied_in_order_with_modes_times_and_the_workspace_owner(dest: Path) -> None:
    applied = apply(
        dest,
        [D("etc"), F("etc/motd", b"one\n"), D("usr/bin", mode=0o555), F("usr/bin/tool", b"t", mode=0o755)],
        [F("etc/motd", b"two\n"), S("bin", "usr/bin"), H("usr/bin/alias", "usr/bin/tool")],
    )  # fmt: skip
    assert applied == Applied()
    assert tree(dest) == {
        "etc": "dir", "usr": "dir", "bin": "-> usr/bin", "etc/motd": "two\n",
        "usr/bin": "dir", "usr/bin/tool": "t", "usr/bin/alias": "t",
    }  # fmt: skip
    assert os.stat(dest / "usr/bin/alias").st_ino == os.stat(dest / "usr/bin/tool").st_ino
    assert stat.S_IMODE(os.stat(dest / "usr/bin/tool").st_mode) == 0o755
    # Directories keep their mode, plus rwx for their owner (the runner must delete them).
    assert stat.S_IMODE(os.stat(dest / "usr/bin").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(dest / "usr").st_mode) == 0o755  # made for a missing parent
    assert os.stat(dest / "etc").st_mtime == 1_600_000_000
    assert os.lstat(dest / "bin").st_mtime == 1_600_000_000
    for path in [*dest.rglob("*")]:
        st = os.lstat(path)
        assert (st.st_uid, st.st_gid) == (1001, 1002), path


def test_names_leading_out_land_inside_or_nowhere(dest: Path, tmp_path: Path) -> None:
    applied = apply(
        dest,
        [F("../escaped", b"out"), F("a/../../escaped2", b"out"), F("/abs", b"in"), F("./dot/./f", b"in")],
    )  # fmt: skip
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "escaped2").exists()
    assert tree(dest) == {"abs": "in", "dot": "dir", "dot/f": "in"}
    assert applied.refused == 2
    (warning,) = applied.warnings()
    assert warning.startswith("2 entries of the image's layers left out: a name or link target")


def test_a_symlink_is_made_but_never_followed(dest: Path, victim: Path) -> None:
    applied = apply(
        dest,
        # Links aim at the test's own victim directory, never at the host's /etc: a
        # regression must fail this test, not overwrite the machine's files.
        [S("a", str(victim)), F("a/planted", b"planted"), S("etc", str(victim)), F("etc/file", b"root::0:0")],
        [F("a/file", b"overwritten"), Entry("a/.wh.file", tarfile.REGTYPE)],
    )  # fmt: skip
    assert_untouched(victim)
    assert tree(dest) == {"a": f"-> {victim}", "etc": f"-> {victim}"}
    assert applied.refused == 4  # three files and a whiteout under a link


def test_a_file_replacing_a_link_replaces_the_link_only(dest: Path, victim: Path) -> None:
    apply(
        dest,
        [S("x", str(victim / "file")), S("d", str(victim))],
        [F("x", b"new"), D("d"), F("d/file", b"new")],
    )
    assert_untouched(victim)
    assert tree(dest) == {"x": "new", "d": "dir", "d/file": "new"}


def test_hard_links_only_reach_regular_files_already_made_inside(dest: Path, victim: Path) -> None:
    applied = apply(
        dest,
        [
            H("abs", str(victim / "file")),  # read inside dest, where there is no such file
            H("up", f"../{victim.name}/file"),
            S("outlink", str(victim / "file")),
            H("vialink", "outlink"),  # a link to a symlink: refused, not followed
            S("dir", str(victim)),
            H("viadir", "dir/file"),
            H("self", "self"),
        ],
    )
    assert tree(dest) == {"outlink": f"-> {victim / 'file'}", "dir": f"-> {victim}"}
    assert applied.refused == 5
    assert os.stat(victim / "file").st_nlink == 1


def test_writing_a_file_again_does_not_write_through_an_earlier_hard_link(dest: Path) -> None:
    apply(dest, [F("a", b"old"), H("b", "a")], [F("b", b"new")])
    assert tree(dest) == {"a": "old", "b": "new"}


def test_devices_and_fifos_are_left_out_and_counted(dest: Path) -> None:
    applied = apply(
        dest,
        [F("dev/null", b"lower file")],
        [
            Entry("dev/null", tarfile.CHRTYPE),
            Entry("dev/sda", tarfile.BLKTYPE),
            Entry("run/fifo", tarfile.FIFOTYPE),
        ],
    )
    assert tree(dest) == {"dev": "dir", "run": "dir"}  # what the node replaced is gone too
    assert applied.devices == 3
    assert applied.warnings() == ["3 device nodes and fifos of the image left out"]


def test_setuid_setgid_and_sticky_bits_are_cleared(dest: Path) -> None:
    apply(dest, [F("su", mode=0o4755), F("sg", mode=0o2755), D("tmp", mode=0o1777)])
    assert stat.S_IMODE(os.stat(dest / "su").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(dest / "sg").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(dest / "tmp").st_mode) == 0o777


def test_whiteouts_remove_lower_entries(dest: Path) -> None:
    apply(
        dest,
        [F("etc/keep"), F("etc/gone"), D("var/cache"), F("var/cache/a"), S("link", "/")],
        [Entry("etc/.wh.gone", tarfile.REGTYPE), Entry(".wh.var", tarfile.REGTYPE), Entry(".wh.link", tarfile.REGTYPE)],
    )  # fmt: skip
    assert tree(dest) == {"etc": "dir", "etc/keep": "x"}


def test_a_whiteout_never_removes_its_own_layer_or_the_directory_itself(dest: Path) -> None:
    applied = apply(
        dest,
        [F("d/lower")],
        [F("d/new"), Entry("d/.wh.new", tarfile.REGTYPE), Entry("d/.wh..", tarfile.REGTYPE)],
    )
    assert tree(dest) == {"d": "dir", "d/lower": "x", "d/new": "x"}
    assert applied.refused == 1


def test_an_opaque_directory_hides_everything_lower_but_not_its_own_layer(dest: Path) -> None:
    apply(
        dest,
        [D("d"), F("d/old"), D("d/sub"), F("d/sub/old"), F("other/keep")],
        # The layer's own entries come before and after the marker.
        [F("d/sub/new", b"new"), Entry("d/.wh..wh..opq", tarfile.REGTYPE), F("d/after", b"after")],
    )  # fmt: skip
    assert tree(dest) == {
        "d": "dir", "d/sub": "dir", "d/sub/new": "new", "d/after": "after",
        "other": "dir", "other/keep": "x",
    }  # fmt: skip


def test_an_opaque_marker_below_a_link_is_not_followed(dest: Path, victim: Path) -> None:
    apply(dest, [S("d", str(victim))], [Entry("d/.wh..wh..opq", tarfile.REGTYPE)])
    assert_untouched(victim)


def test_a_directory_replaces_a_file_and_a_file_a_directory(dest: Path) -> None:
    apply(dest, [F("a"), D("b"), F("b/inner")], [D("a"), F("a/in"), F("b", b"file")])
    assert tree(dest) == {"a": "dir", "a/in": "x", "b": "file"}


def test_the_image_owners_are_kept_without_an_owner(dest: Path) -> None:
    apply(
        dest,
        [D("home", uid=1000, gid=1000), F("home/f", uid=1000, gid=1001), S("l", "f")],
        owner=None,
        writable_dirs=False,
    )
    assert (os.stat(dest / "home").st_uid, os.stat(dest / "home/f").st_gid) == (1000, 1001)
    assert os.lstat(dest / "l").st_uid == 0


def test_an_uncompressed_layer_is_read_too(dest: Path) -> None:
    apply(dest, [F("plain", b"p")], compress=False)
    assert tree(dest) == {"plain": "p"}


def test_pack_tree_stores_links_as_links_and_hard_links_once(
    dest: Path, tmp_path: Path, victim: Path
) -> None:
    apply(
        dest,
        [D("d", mode=0o700), F("d/f", b"data", mode=0o640, uid=7, gid=8), H("d/g", "d/f"), S("out", str(victim))],
        owner=None,
        writable_dirs=False,
    )  # fmt: skip
    packed = tmp_path / "fs.tar"
    pack_tree(dest, packed)
    with tarfile.open(packed) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == ["d", "d/f", "d/g", "out"]
        assert members["d"].isdir() and members["d"].mode == 0o700
        assert (members["d/f"].uid, members["d/f"].gid, members["d/f"].mode) == (7, 8, 0o640)
        assert members["d/f"].uname == ""
        assert tar.extractfile("d/f").read() == b"data"  # type: ignore[union-attr]
        assert members["d/g"].islnk() and members["d/g"].linkname == "d/f"
        assert members["out"].issym() and members["out"].linkname == str(victim)


def test_an_interrupted_apply_leaves_everything_to_the_owner(dest: Path) -> None:
    """A run killed before finish(): the runner user must still be able to delete it all."""
    dest.mkdir()
    fd = os.open(dest, DIR_FLAGS)
    try:
        LayerApplier(fd, (1001, 1002), True).apply(
            layer([D("a/b", mode=0o500), F("a/b/f"), S("l", "a")])
        )
    finally:
        os.close(fd)
    for path in dest.rglob("*"):
        st = os.lstat(path)
        assert (st.st_uid, st.st_gid) == (1001, 1002), path
        if stat.S_ISDIR(st.st_mode):
            assert stat.S_IMODE(st.st_mode) == 0o700, path
