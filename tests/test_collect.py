"""Collecting outputs from the chroot: links and special files refused, owners set."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from kaniko_action.errors import SandboxError
from kaniko_action.staging.collect import collect_file, collect_tree
from kaniko_action.utils.fs import NotRegular, read_regular_beneath

from .support.elsewhere import JOB_UID, elsewhere

OUT = PurePosixPath("/.kaniko-build/out")


@pytest.fixture
def chroot(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / ".kaniko-build" / "out").mkdir(parents=True)
    return root


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    os.chown(ws, 1001, 1002)
    return ws


def test_a_regular_file_moves_with_new_parents_owned_like_the_workspace(
    chroot: Path, workspace: Path
) -> None:
    (chroot / ".kaniko-build/out/image.tar").write_bytes(b"tar")
    collect_file(chroot, OUT / "image.tar", workspace / "a/b/image.tar", workspace)
    assert (workspace / "a/b/image.tar").read_bytes() == b"tar"
    for path in (workspace / "a", workspace / "a/b", workspace / "a/b/image.tar"):
        assert (os.lstat(path).st_uid, os.lstat(path).st_gid) == (1001, 1002)
    assert os.lstat(workspace / "a/b/image.tar").st_mode & 0o777 == 0o644


@pytest.mark.parametrize("kind", ["file-link", "dir-link", "fifo", "directory"])
def test_anything_but_a_regular_file_is_refused(
    chroot: Path, workspace: Path, tmp_path: Path, kind: str
) -> None:
    secret = tmp_path / "runner-secret"
    secret.write_text("secret\n")
    out = chroot / ".kaniko-build/out"
    if kind == "file-link":
        (out / "image.tar").symlink_to(secret)
    elif kind == "dir-link":
        os.rmdir(out)
        out.symlink_to(tmp_path)
        (tmp_path / "image.tar").write_text("runner file\n")
    elif kind == "fifo":
        os.mkfifo(out / "image.tar")
    else:
        (out / "image.tar").mkdir()
    with pytest.raises(SandboxError, match="refusing to collect"):
        collect_file(chroot, OUT / "image.tar", workspace / "image.tar", workspace)
    assert list(workspace.iterdir()) == []
    assert secret.read_text() == "secret\n"


def test_a_committed_link_on_the_destination_side_is_not_followed(
    chroot: Path, workspace: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (workspace / "out").symlink_to(elsewhere)
    (chroot / ".kaniko-build/out/image.tar").write_bytes(b"tar")
    with pytest.raises(SandboxError, match="not a directory"):
        collect_file(chroot, OUT / "image.tar", workspace / "out/image.tar", workspace)
    assert list(elsewhere.iterdir()) == []


def test_an_existing_file_is_replaced_not_written_through(
    chroot: Path, workspace: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    target.write_text("keep\n")
    (workspace / "image.tar").symlink_to(target)
    (chroot / ".kaniko-build/out/image.tar").write_bytes(b"tar")
    collect_file(chroot, OUT / "image.tar", workspace / "image.tar", workspace)
    assert not (workspace / "image.tar").is_symlink()
    assert (workspace / "image.tar").read_bytes() == b"tar"
    assert target.read_text() == "keep\n"


def test_an_oci_layout_moves_whole_and_a_link_inside_refuses_it(
    chroot: Path, workspace: Path, tmp_path: Path
) -> None:
    layout = chroot / ".kaniko-build/out/oci"
    (layout / "blobs/sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text("{}")
    (layout / "blobs/sha256/abc").write_text("blob")
    collect_tree(chroot, OUT / "oci", workspace / "layouts/oci", workspace)
    assert (workspace / "layouts/oci/blobs/sha256/abc").read_text() == "blob"
    for path in [workspace / "layouts", *(workspace / "layouts").rglob("*")]:
        assert os.lstat(path).st_uid == 1001, path

    (layout / "blobs/sha256").mkdir(parents=True)
    (layout / "blobs/sha256/evil").symlink_to(tmp_path)
    with pytest.raises(SandboxError, match="blobs/sha256/evil in it is not a regular file"):
        collect_tree(chroot, OUT / "oci", workspace / "again", workspace)
    assert not (workspace / "again").exists()


def test_reading_refuses_links_anywhere_on_the_way(chroot: Path, tmp_path: Path) -> None:
    (tmp_path / "digest").write_text("runner\n")
    os.rmdir(chroot / ".kaniko-build/out")
    (chroot / ".kaniko-build/out").symlink_to(tmp_path)
    with pytest.raises(NotRegular):
        read_regular_beneath(chroot, ".kaniko-build/out/digest")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
def test_outputs_on_another_filesystem_are_copied_through_the_checked_descriptor(
    chroot: Path, tmp_path: Path
) -> None:
    """A workspace on another filesystem than RUNNER_TEMP: rename fails (EXDEV), so the
    file and the layout are copied, then the chroot's copies go with the sandbox."""
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(other)], check=True)
    try:
        os.chown(other, 1001, 1002)
        data = os.urandom(3 << 20)
        (chroot / ".kaniko-build/out/image.tar").write_bytes(data)
        layout = chroot / ".kaniko-build/out/layout"
        (layout / "blobs/sha256").mkdir(parents=True)
        (layout / "index.json").write_text("{}")
        (layout / "blobs/sha256/abc").write_bytes(data[:1000])
        collect_file(chroot, OUT / "image.tar", other / "out/image.tar", other)
        collect_tree(chroot, OUT / "layout", other / "out/layout", other)
        assert os.stat(other).st_dev != os.stat(chroot).st_dev
        assert (other / "out/image.tar").read_bytes() == data
        assert os.lstat(other / "out/image.tar").st_mode & 0o777 == 0o644
        assert (other / "out/layout/index.json").read_text() == "{}"
        assert (other / "out/layout/blobs/sha256/abc").read_bytes() == data[:1000]
        for path in (other / "out/image.tar", other / "out/layout/blobs/sha256/abc"):
            assert (os.lstat(path).st_uid, os.lstat(path).st_gid) == (1001, 1002)
        assert sorted(p.name for p in other.joinpath("out").iterdir()) == ["image.tar", "layout"]
    finally:
        subprocess.run(["umount", str(other)], check=True)


@pytest.fixture
def shared() -> Iterator[Path]:
    with elsewhere() as top:
        yield top


def test_outside_the_workspace_the_walk_starts_at_root_and_the_job_user_gets_it(
    chroot: Path, shared: Path
) -> None:
    """An output elsewhere (base /): new parents and the files are the job user's."""
    (chroot / ".kaniko-build/out/image.tar").write_bytes(b"tar")
    layout = chroot / ".kaniko-build/out/oci"
    (layout / "blobs/sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text("{}")
    (layout / "blobs/sha256/abc").write_text("blob")
    owner = (JOB_UID, JOB_UID)
    out = shared / "mine" / "new"
    collect_file(chroot, OUT / "image.tar", out / "image.tar", Path("/"), owner)
    collect_tree(chroot, OUT / "oci", out / "deeper" / "oci", Path("/"), owner)
    assert (out / "image.tar").read_bytes() == b"tar"
    assert (out / "deeper/oci/blobs/sha256/abc").read_text() == "blob"
    for path in [out, *out.rglob("*")]:
        assert (os.lstat(path).st_uid, os.lstat(path).st_gid) == owner, path
    assert sorted(os.listdir(out)) == ["deeper", "image.tar"]  # no hidden name left
    assert sorted(os.listdir(out / "deeper")) == ["oci"]


def test_an_earlier_layout_is_replaced_only_once_the_new_one_is_complete(
    chroot: Path, shared: Path
) -> None:
    layout = chroot / ".kaniko-build/out/oci"
    (layout / "blobs/sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text("{}")
    (layout / "blobs/sha256/new").write_text("new")
    earlier = shared / "mine" / "full"
    (earlier / "blobs").mkdir()
    (earlier / "blobs" / "old").write_text("old")
    collect_tree(chroot, OUT / "oci", earlier, Path("/"), (JOB_UID, JOB_UID))
    assert sorted(p.relative_to(earlier).as_posix() for p in earlier.rglob("*")) == [
        "blobs", "blobs/sha256", "blobs/sha256/new", "oci-layout"
    ]  # fmt: skip
    assert sorted(os.listdir(earlier.parent)) == ["dir", "file.txt", "full", "link.tar"]


def test_a_destination_parent_swapped_for_a_link_is_not_followed(
    chroot: Path, shared: Path, tmp_path: Path
) -> None:
    """The job's user owns the parent and replaces a directory on the way with a link to a
    directory of root's after the spec checked it: the walk from / refuses it."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (chroot / ".kaniko-build/out/image.tar").write_bytes(b"tar")
    os.rmdir(shared / "mine" / "dir")
    (shared / "mine" / "dir").symlink_to(victim)
    with pytest.raises(SandboxError, match="on the way is not a directory"):
        collect_file(
            chroot, OUT / "image.tar", shared / "mine/dir/image.tar", Path("/"), (JOB_UID, JOB_UID)
        )
    assert list(victim.iterdir()) == []
