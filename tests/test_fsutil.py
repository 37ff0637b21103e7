"""Removing a work directory never crosses a mount point."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from kaniko_action.utils.fs import CrossesMount, mounts_under, remove_tree


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
