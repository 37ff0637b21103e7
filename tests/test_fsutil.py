"""Removing a work directory never crosses a mount point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kaniko_action.utils import fs
from kaniko_action.utils.fs import (
    CrossesMount,
    NotRegular,
    TooLarge,
    mounts_under,
    read_regular_file,
    remove_beneath,
    remove_tree,
)

from .support.fifo import error_without_waiting


def test_removes_tree_with_links_and_locked_directories(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    work = tmp_path / "work"
    (work / "a" / "b").mkdir(parents=True)
    (work / "a" / "b" / "f").write_text("x")
    os.symlink(outside, work / "a" / "link-to-outside")
    os.symlink(outside / "keep.txt", work / "file-link")
    os.mkfifo(work / "fifo")
    os.chmod(work / "a" / "b", 0)
    remove_tree(work)
    assert not work.exists()
    assert (outside / "keep.txt").read_text() == "keep"


def test_a_wide_and_deep_tree_is_removed_by_threads_without_following_a_link(
    tmp_path: Path,
) -> None:
    """Past the levels walked in one thread (files in batches, whole subtrees to threads):
    more files per directory than a batch, locked directories above and below the split,
    links to the outside at every level, a lock file kept to the end."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    work = tmp_path / "work"
    deepest = work.joinpath(*(f"l{depth}" for depth in range(fs._SPLIT_DEPTH + 3)))
    deepest.mkdir(parents=True)
    directory = work
    for depth in range(fs._SPLIT_DEPTH + 3):
        for n in range(fs._BATCH + 5 if depth in (1, fs._SPLIT_DEPTH + 1) else 3):
            (directory / f"f{n}").write_text("x")
        os.symlink(outside, directory / "link-to-outside")
        os.symlink(outside / "keep.txt", directory / "file-link")
        directory = directory / f"l{depth}"
    (work / "owner.lock").write_text("")
    for locked in (work / "l0", work.joinpath(*(f"l{d}" for d in range(fs._SPLIT_DEPTH + 2)))):
        os.chmod(locked, 0)
    remove_tree(work, last="owner.lock")
    assert not work.exists()
    assert sorted(os.listdir(outside)) == ["keep.txt"]
    assert (outside / "keep.txt").read_text() == "keep"


def test_missing_path_is_fine(tmp_path: Path) -> None:
    remove_tree(tmp_path / "never-made")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
def test_refuses_to_cross_a_mount(tmp_path: Path) -> None:
    work = tmp_path / "work"
    mnt = work / "root" / "mnt"
    mnt.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mnt)], check=True)
    try:
        (mnt / "precious").write_text("on another filesystem")
        assert mounts_under(work) == [str(mnt)]
        with pytest.raises(CrossesMount, match="mount points below it"):
            remove_tree(work)
        assert (mnt / "precious").read_text() == "on another filesystem"
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    remove_tree(work)
    assert not work.exists()


def deep_tree(top: Path, depth: int, name: str = "ddd") -> int:
    """`top/name/name/.../secret` `depth` levels deep, made through directory descriptors
    (its full path is far longer than PATH_MAX); returns the length of that path."""
    top.mkdir()
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir(name, dir_fd=fd)
        child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    leaf = os.open("secret", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
    os.write(leaf, b"s3cr3t")
    os.close(leaf)
    os.fchmod(fd, 0)  # and the deepest directory unsearchable
    os.close(fd)
    return len(str(top)) + depth * (len(name) + 1) + len("/secret")


def test_a_tree_deeper_than_the_recursion_limit_and_path_max_is_removed(tmp_path: Path) -> None:
    depth = sys.getrecursionlimit() + 200
    length = deep_tree(tmp_path / "work", depth)
    assert length > os.pathconf("/", "PC_PATH_MAX")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    os.symlink(outside, tmp_path / "work" / "ddd" / "link")
    remove_tree(tmp_path / "work")
    assert not (tmp_path / "work").exists()
    assert (outside / "keep").read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir()] == ["outside"]


def test_the_lock_file_goes_last(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "owner.lock").write_text("")
    (work / "sub").mkdir()
    os.chmod(work / "sub", 0o500)
    remove_tree(work, last="owner.lock")
    assert not work.exists()


def test_removing_beneath_a_root_never_follows_a_link_on_the_way(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real" / "secret-src").mkdir(parents=True)
    (root / "real" / "secret-src" / "0").write_text("s")
    victim = tmp_path / "victim"
    (victim / "secret-src").mkdir(parents=True)
    (victim / "secret-src" / "keep").write_text("keep")
    os.symlink(victim, root / "linked")
    remove_beneath(root, ("linked", "secret-src"))
    assert (victim / "secret-src" / "keep").read_text() == "keep"
    remove_beneath(root, ("real", "secret-src"))
    assert not (root / "real" / "secret-src").exists()
    remove_beneath(root, ("real", "never-there"))


def test_read_regular_file_reads_only_a_regular_file_within_the_limit(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"12345")
    assert read_regular_file(tmp_path / "f", 5) == b"12345"
    with pytest.raises(TooLarge):
        read_regular_file(tmp_path / "f", 4)
    (tmp_path / "link").symlink_to(tmp_path / "f")
    with pytest.raises(NotRegular, match="is a symbolic link"):
        read_regular_file(tmp_path / "link", 5)
    with pytest.raises(NotRegular, match="is not a regular file"):
        read_regular_file(tmp_path, 5)
    os.mkfifo(tmp_path / "fifo")
    error = error_without_waiting(
        tmp_path / "fifo", lambda: read_regular_file(tmp_path / "fifo", 5)
    )
    assert isinstance(error, NotRegular)
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "missing", 5)
