"""Proof that a build left the host as it found it."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Watched recursively (small) and at their top level (large).
RECURSIVE = ("/etc", "/kaniko", "/root/.docker", "/usr/local/bin")
TOP_LEVEL = (
    "/",
    "/bin",
    "/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/lib",
    "/var/lib",
    "/opt",
    "/root",
    "/home",
    "/dev",
)
EXECUTOR_MARK = "/.kaniko-build/executor"
# Touched by any terminal or shared-memory user on the machine, never by a build in a chroot
# (whose /dev holds only the nodes the sandbox made).
VOLATILE = ("/dev/pts", "/dev/shm", "/dev/ptmx")

Entry = tuple[int, int, int, int, int, int, str]


def _entry(path: str) -> Entry | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""
    size = st.st_size if not stat.S_ISDIR(st.st_mode) else 0
    mtime = st.st_mtime_ns if not stat.S_ISDIR(st.st_mode) else 0
    return (st.st_mode, st.st_uid, st.st_gid, size, mtime, st.st_ino, link)


def snapshot_tree(root: str, recursive: bool) -> dict[str, Entry]:
    found: dict[str, Entry] = {}
    top = _entry(root)
    if top is None:
        return found
    found[root] = top
    if not stat.S_ISDIR(top[0]):
        return found
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            names = os.listdir(current)
        except OSError:
            continue
        for name in names:
            path = os.path.join(current, name)
            entry = _entry(path)
            if entry is None:
                continue
            found[path] = entry
            if recursive and stat.S_ISDIR(entry[0]) and not path.startswith("/proc"):
                stack.append(path)
    return found


def files_holding(
    root: Path, needles: Sequence[str | bytes], allowed: tuple[Path, ...] = ()
) -> list[str]:
    """Regular files below `root`, other than `allowed`, that contain any of `needles`
    (a secret left behind on the runner)."""
    wanted = [n.encode() if isinstance(n, str) else n for n in needles]
    hits: list[str] = []
    for name in snapshot_tree(str(root), recursive=True):
        path = Path(name)
        if path in allowed or path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if any(n in data for n in wanted):
            hits.append(str(path))
    return hits


def executor_processes(within: Path) -> list[str]:
    """Processes of builds whose work directories are under `within` (their root is there),
    and any kaniko executor running against the machine's own `/`.

    Executors that other sessions on the machine run in chroots of their own elsewhere are
    not this test's: they do not count."""
    scope = os.path.realpath(within).rstrip("/") + "/"
    found: list[str] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")[0].decode()
            root = os.readlink(f"/proc/{name}/root")
        except OSError:
            continue
        executor = cmdline.endswith((EXECUTOR_MARK, "/executor"))
        if (root + "/").startswith(scope) or (executor and root == "/"):
            found.append(f"{name}: {cmdline} (root {root})")
    return found


def mounts_below(paths: list[Path]) -> list[str]:
    text = Path("/proc/self/mountinfo").read_text(encoding="utf-8")
    points = [line.split(" ")[4] for line in text.splitlines()]
    prefixes = [str(p).rstrip("/") + "/" for p in paths]
    return [m for m in points if any(m.startswith(p) for p in prefixes)]


def device_nodes_under(root: Path) -> list[str]:
    return [
        path
        for path, entry in snapshot_tree(str(root), recursive=True).items()
        if stat.S_ISCHR(entry[0]) or stat.S_ISBLK(entry[0])
    ]


@dataclass
class HostSnapshot:
    """State of the host outside the work directory, taken before a build."""

    trees: dict[str, dict[str, Entry]]
    workspace: Path
    work_base: Path

    @classmethod
    def take(cls, workspace: Path, work_base: Path) -> HostSnapshot:
        trees = {r: snapshot_tree(r, True) for r in RECURSIVE}
        trees.update({r: snapshot_tree(r, False) for r in TOP_LEVEL})
        trees[str(workspace)] = snapshot_tree(str(workspace), True)
        trees[str(work_base)] = snapshot_tree(str(work_base), False)
        return cls(trees=trees, workspace=workspace, work_base=work_base)

    def changes(self) -> list[str]:
        """Everything that differs now; empty when the host is untouched."""
        problems: list[str] = []
        for root, before in self.trees.items():
            recursive = root in RECURSIVE or root == str(self.workspace)
            after = snapshot_tree(root, recursive)
            for path in sorted(set(before) | set(after)):
                if path.startswith(VOLATILE):
                    continue
                if before.get(path) != after.get(path):
                    what = (
                        "added"
                        if path not in before
                        else ("removed" if path not in after else "changed")
                    )
                    problems.append(f"{what}: {path}")
        problems += [f"process left: {p}" for p in executor_processes(self.work_base)]
        problems += [f"mount left: {m}" for m in mounts_below([self.work_base, self.workspace])]
        problems += [f"device node left: {d}" for d in device_nodes_under(self.work_base)]
        problems += [f"device node left: {d}" for d in device_nodes_under(self.workspace)]
        return problems


def lock_is_free(workdir: Path) -> bool:
    """Whether no live process holds a work directory's lock (its build is gone)."""
    import fcntl

    try:
        fd = os.open(workdir / "owner.lock", os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True
