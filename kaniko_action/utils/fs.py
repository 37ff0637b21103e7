"""Filesystem helpers that never cross a mount point, and readers that never follow a
symlink (`read_regular_file` for runner files the inputs name, `read_regular_beneath` for
files inside the chroot)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from .linux import detach_mount

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Opening a file to read it: never through a final symlink, and without blocking on a fifo
# (the regular-file check after fstat then refuses it).
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# Making a file to write: only a new one, never a name that already exists (a link or a hard
# link put there cannot carry the write elsewhere).
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _unescape_mountinfo(field: str) -> str:
    return (
        field.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
    )


def mount_points(mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Mount points of this process's mount namespace."""
    try:
        with open(mountinfo, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return [_unescape_mountinfo(line.split(" ")[4]) for line in lines if len(line.split(" ")) > 4]


def mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    return [m for m in mount_points() if m == str(path) or m.startswith(prefix)]


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner (root) can read, in a directory only it can enter."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


class CrossesMount(OSError):
    pass


class RemovalIncomplete(OSError):
    """Some entries could not be removed; everything else was. `problems` names them."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"could not remove all of {path}: {'; '.join(problems[:5])}")
        self.problems = problems


# Directories open at once while removing a tree. Deeper ones are moved up to the top of the
# tree first, so no tree is too deep: not for the open-file limit, nor for PATH_MAX (no path
# is ever built), nor for Python's recursion limit (nothing recurses).
MAX_OPEN_DIRS = 64


def remove_tree(path: Path, last: str | None = None) -> None:
    """Delete `path` and everything below it without following links or crossing mounts.

    Every directory is opened with O_NOFOLLOW relative to its parent's descriptor, made
    searchable with fchmod (a RUN step may have chmod'ed it 000), and emptied with unlinkat;
    directories deeper than MAX_OPEN_DIRS are renamed to the top directory and emptied from
    there. A directory on another device, or listed as a mount point, is not entered: it is
    left in place with what leads to it, and the removal ends with CrossesMount (or with
    RemovalIncomplete for entries that could not be deleted) once everything else is gone.
    `last`, an entry of `path` itself, is deleted after everything else (a lock file).
    """
    try:
        top = os.lstat(path)
    except FileNotFoundError:
        return
    mounted = mounts_under(path)
    if mounted:
        raise CrossesMount(
            f"refusing to delete {path}: mount points below it: {', '.join(mounted)}"
        )
    if not stat.S_ISDIR(top.st_mode):
        os.unlink(path)
        return
    fd = os.open(path, DIR_FLAGS)
    try:
        crossing, problems = _empty_in_parallel(fd, top.st_dev, keep=last)
        if last is not None and not crossing and not problems:
            _attempt(problems, os.unlink, last, fd)
    finally:
        os.close(fd)
    if crossing:
        raise CrossesMount(f"refusing to delete {crossing[0]}: it is on another filesystem")
    if problems:
        raise RemovalIncomplete(path, problems)
    os.rmdir(path)


def remove_beneath(root: Path, parts: Sequence[str]) -> None:
    """Delete `root/parts...` (a file or a tree) if it is there, reaching it one component at
    a time without following a link: a link on the way is left alone (nothing is deleted)."""
    try:
        parent = walk_beneath(root, parts[:-1])
    except OSError:
        return
    try:
        remove_at(parent, parts[-1], root.joinpath(*parts))
    finally:
        os.close(parent)


def remove_at(dir_fd: int, name: str, shown: Path | None = None) -> None:
    """Delete the entry `name` of the open directory `dir_fd` if it is there: a file or a
    link, or a tree emptied without following links or crossing mounts (RemovalIncomplete,
    naming it `shown`, when something in it stays)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    try:
        crossing, problems = _empty_directory(fd, st.st_dev)
    finally:
        os.close(fd)
    if crossing or problems:
        raise RemovalIncomplete(shown or Path(name), crossing + problems)
    os.rmdir(name, dir_fd=dir_fd)


def _empty_directory(
    top_fd: int, device: int, keep: str | None = None
) -> tuple[list[str], list[str]]:
    """Delete everything inside the open directory `top_fd` but `keep`; (mounts crossed,
    other problems)."""
    top = os.dup(top_fd)
    # One frame per open directory: its descriptor, its name in the frame above, and the
    # names still to delete in it.
    frames: list[tuple[int, str, list[str]]] = [
        (top, "", [n for n in os.listdir(top) if n != keep])
    ]
    crossing: list[str] = []
    problems: list[str] = []
    moved = 0
    try:
        while frames:
            fd, name, names = frames[-1]
            if not names:
                frames.pop()
                os.close(fd)
                if frames:
                    _attempt(problems, os.rmdir, name, frames[-1][0])
                continue
            entry = names.pop()
            st = _entry_stat(entry, fd, problems)
            if st is None:
                continue
            if not stat.S_ISDIR(st.st_mode):
                _attempt(problems, os.unlink, entry, fd)
                continue
            if st.st_dev != device:
                crossing.append(entry)
                continue
            if len(frames) >= MAX_OPEN_DIRS:
                # Too deep to keep descending: move it to the top and empty it from there.
                moved += 1
                new_name = f".kaniko-build-deep-{moved}-{os.urandom(4).hex()}"
                os.rename(entry, new_name, src_dir_fd=fd, dst_dir_fd=top)
                frames[0][2].append(new_name)
                continue
            child = _open_emptiable(entry, fd, problems)
            if child is not None:
                frames.append((child, entry, os.listdir(child)))
    finally:
        for fd, _name, _names in frames:
            os.close(fd)
    return crossing, problems


def _entry_stat(name: str, dir_fd: int, problems: list[str]) -> os.stat_result | None:
    """The entry's own metadata (a link is not followed); None when it is gone already, or,
    with the problem noted, when it cannot be read."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError as e:
        problems.append(f"{name}: {e.strerror}")
        return None


def _open_emptiable(name: str, dir_fd: int, problems: list[str]) -> int | None:
    """The directory `name` (never through a link) opened and made writable and searchable
    (a RUN step may have chmod'ed it 000); None, with the problem noted, when it cannot be."""
    try:
        child = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EPERM):
            problems.append(f"{name}: {e.strerror}")
            return None
        os.chmod(name, 0o700, dir_fd=dir_fd, follow_symlinks=False)
        child = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    os.fchmod(child, 0o700)
    return child


# Directories this many levels below the top are emptied by threads, at most this many
# directories being held open above them; the files of the levels above are unlinked by the
# threads too, in batches. Unlinking waits on the filesystem, not the CPU (ext4 with
# `discard`, 2 cores: an unpacked Debian base, 0.48-0.56 s in one thread, 0.28-0.33 s in
# four).
_SPLIT_DEPTH = 3
_SPLIT_OPEN = 256
_BATCH = 256
_WORKERS = 4

# A thread's share: a directory to empty and remove ("tree"), or files to unlink ("files"),
# each in the directory open as the descriptor.
_Job = tuple[str, int, Sequence[str]]


def _empty_in_parallel(
    top_fd: int, device: int, keep: str | None = None
) -> tuple[list[str], list[str]]:
    """What _empty_directory does, shared by _WORKERS threads: the levels down to
    _SPLIT_DEPTH (or to _SPLIT_OPEN open directories) are walked here, their files given to
    the threads in batches and their subdirectories below that given whole, each reached
    from a descriptor with O_NOFOLLOW; the walked directories are removed, deepest first,
    once the threads are done."""
    crossing: list[str] = []
    problems: list[str] = []
    top = os.dup(top_fd)
    opened = [top]
    held: list[tuple[int, str]] = []  # (parent, name) of the directories walked here
    jobs: list[_Job] = []
    level = [(top, [n for n in os.listdir(top) if n != keep])]
    try:
        for depth in range(_SPLIT_DEPTH + 1):
            below: list[tuple[int, list[str]]] = []
            for fd, names in level:
                files: list[str] = []
                for entry in names:
                    st = _entry_stat(entry, fd, problems)
                    if st is None:
                        continue
                    if not stat.S_ISDIR(st.st_mode):
                        files.append(entry)
                    elif st.st_dev != device:
                        crossing.append(entry)
                    elif depth == _SPLIT_DEPTH or len(opened) >= _SPLIT_OPEN:
                        jobs.append(("tree", fd, (entry,)))
                    else:
                        child = _open_emptiable(entry, fd, problems)
                        if child is not None:
                            opened.append(child)
                            held.append((fd, entry))
                            below.append((child, os.listdir(child)))
                jobs += [("files", fd, files[i : i + _BATCH]) for i in range(0, len(files), _BATCH)]
            level = below
        if len(jobs) > 1:
            from concurrent.futures import ThreadPoolExecutor  # only for a tree worth it

            with ThreadPoolExecutor(_WORKERS) as pool:
                done = list(pool.map(lambda job: _run_job(job, device), jobs))
        else:
            done = [_run_job(job, device) for job in jobs]
        for found, failed in done:
            crossing += found
            problems += failed
        for parent, name in reversed(held):
            _attempt(problems, os.rmdir, name, parent)
    finally:
        for fd in opened:
            os.close(fd)
    return crossing, problems


def _run_job(job: _Job, device: int) -> tuple[list[str], list[str]]:
    """One thread's share: unlink the files, or empty and remove the directory."""
    kind, parent, names = job
    problems: list[str] = []
    if kind == "files":
        for name in names:
            _attempt(problems, os.unlink, name, parent)
        return [], problems
    (name,) = names
    child = _open_emptiable(name, parent, problems)
    if child is None:
        return [], problems
    try:
        crossing, failed = _empty_directory(child, device)
    finally:
        os.close(child)
    problems += failed
    if not crossing:
        _attempt(problems, os.rmdir, name, parent)
    return crossing, problems


def _attempt(problems: list[str], action: Callable[..., None], name: str, dir_fd: int) -> None:
    try:
        action(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    except OSError as e:
        problems.append(f"{name}: {e.strerror}")


def unmount_under(path: Path) -> list[str]:
    """Detach every mount at or below `path`, deepest first; returns those still mounted.

    A RUN step runs as root inside the chroot and may mount anything there (a tmpfs, a
    proc, a block device it made a node for). Detaching leaves the mounted data alone and
    lets the work directory be removed without ever reaching into it.
    """
    for _attempt in range(5):
        mounted = sorted(set(mounts_under(path)), key=lambda m: m.count("/"), reverse=True)
        if not mounted:
            return []
        for point in mounted:
            detach_mount(point)
    return mounts_under(path)


def walk_beneath(
    root: Path, parts: Sequence[str], make: Callable[[int, str], None] | None = None
) -> int:
    """A descriptor of the directory `root/parts...`, opened one component at a time with
    O_NOFOLLOW: a symlink anywhere on the way is refused (ELOOP or ENOTDIR, the error's
    filename the component). A missing component is made by `make(parent_fd, name)` when
    given (FileNotFoundError otherwise)."""
    fd = os.open(root, DIR_FLAGS)
    try:
        for part in parts:
            if part in ("", ".", ".."):
                raise OSError(f"unsafe path component {part!r} below {root}")
            try:
                next_fd = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if make is None:
                    raise
                make(fd, part)
                next_fd = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


class NotRegular(OSError):
    """A path that should be a regular file is a symlink, device, directory or fifo."""


def open_regular_beneath(root: Path, relative: str) -> int:
    """Open `root/relative` for reading without following any symlink on the way, and only
    if it is a regular file. The chroot's contents are controlled by RUN steps: a file there
    may have been replaced by a link to a runner file, or a directory on the way by a link
    to a runner directory."""
    parts = tuple(p for p in relative.strip("/").split("/"))
    try:
        dir_fd = walk_beneath(root, parts[:-1])
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise NotRegular(f"a directory on the way to {root}/{relative} is a link") from e
        raise
    try:
        try:
            fd = os.open(parts[-1], READ_FLAGS, dir_fd=dir_fd)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise NotRegular(f"{root}/{relative} is a symbolic link") from e
            raise
    finally:
        os.close(dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegular(f"{root}/{relative} is not a regular file")
    return fd


class TooLarge(OSError):
    """A file is larger than the reader accepts."""


def open_regular_file(path: Path | str, limit: int, dir_fd: int | None = None) -> int:
    """A read-only descriptor of `path` (relative to `dir_fd` if given) if it is a regular
    file itself (not a symlink, fifo, device or directory) of at most `limit` bytes;
    NotRegular or TooLarge otherwise."""
    try:
        fd = os.open(path, READ_FLAGS, dir_fd=dir_fd)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise NotRegular(f"{path} is a symbolic link") from e
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(f"{path} is not a regular file")
        if st.st_size > limit:
            raise TooLarge(f"{path} holds {st.st_size} bytes, more than {limit}")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular_file(path: Path, limit: int) -> bytes:
    """The content of `path`, read from the descriptor open_regular_file checked: a file
    replaced by a symlink or a fifo since it was validated is refused, never followed or
    waited on, and one that grew past `limit` meanwhile is refused too."""
    fd = open_regular_file(path, limit)
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{path} holds more than {limit} bytes")
    return data


def read_regular_beneath(root: Path, relative: str, limit: int = 1 << 20) -> bytes:
    """The content (at most `limit` bytes) of a regular file below `root`, links refused."""
    fd = open_regular_beneath(root, relative)
    with os.fdopen(fd, "rb") as f:
        return f.read(limit)


def hand_back(fd: int, directory: Path) -> None:
    """Give a file root just created to the owner of the directory it is in."""
    if os.geteuid() != 0:
        return
    st = os.stat(directory)
    if (st.st_uid, st.st_gid) != (0, 0):
        os.fchown(fd, st.st_uid, st.st_gid)
