"""Directories outside any workspace for output tests: made by the test directly under
/tmp (pytest's own temporary directories are root's and 0700, which the job's user cannot
enter), laid out as an output outside the workspace finds a runner, and removed after."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

JOB_UID = 1001
OTHER_UID = 1002

# name: (owner uid, group gid, mode)
LAYOUT = {
    "mine": (JOB_UID, JOB_UID, 0o755),
    "rootonly": (0, 0, 0o755),
    "private": (0, 0, 0o700),
    "sticky": (0, 0, 0o1777),
    "group": (0, OTHER_UID, 0o775),
}


@contextmanager
def elsewhere() -> Iterator[Path]:
    """A new directory under /tmp (0755, root's) holding, as LAYOUT says: `mine` (the job
    user's, with `dir/`, `file.txt`, `link.tar -> file.txt` and `full/`, an OCI layout),
    `rootonly` (with `layout/`, an OCI layout), `private`, `sticky` (like /tmp, with
    `own.tar` of the job's user and `other.tar` of another user), `group` (group-writable
    for OTHER_UID's group), and `link -> mine`. Removed afterwards, whatever is in it."""
    top = Path(tempfile.mkdtemp(prefix="kaniko-test-outputs-", dir="/tmp"))
    try:
        os.chmod(top, 0o755)
        for name, (uid, gid, mode) in LAYOUT.items():
            (top / name).mkdir()
            os.chown(top / name, uid, gid)
            os.chmod(top / name, mode)
        mine = top / "mine"
        (mine / "dir").mkdir()
        (mine / "file.txt").write_text("x\n")
        (mine / "link.tar").symlink_to(mine / "file.txt")
        (mine / "full").mkdir()
        (mine / "full" / "oci-layout").write_text("{}")
        for path in mine.rglob("*"):
            os.chown(path, JOB_UID, JOB_UID, follow_symlinks=False)
        (top / "rootonly" / "layout").mkdir()
        (top / "rootonly" / "layout" / "oci-layout").write_text("{}")
        (top / "link").symlink_to(mine)
        for name, uid in (("own.tar", JOB_UID), ("other.tar", OTHER_UID)):
            (top / "sticky" / name).write_text("old\n")
            os.chown(top / "sticky" / name, uid, uid)
        yield top
    finally:
        shutil.rmtree(top)
