"""The image's filesystem (`outputs` type=local and type=tar): its layers applied in order onto
a directory, OCI/Docker whiteouts honoured, and a directory packed into one tarball.

The layers come out of the build, whose RUN steps run as root: every member of a layer
tarball is untrusted, its name, type and link target alike. So nothing here uses a path
to reach into the directory: each entry is reached from the directory's descriptor one
component at a time with O_NOFOLLOW, and a name holding `..`, or whose parent runs through
a symlink (or a file), is left out, whatever the link points at; an absolute name is read
relative to the directory, as tar and containerd read it. A symlink member is made as a
link and never followed; a hard link may only point at a regular file already made in the
directory. Device nodes and fifos are not made (what they replace is still removed);
setuid, setgid and sticky bits are cleared. Files are created fresh (O_EXCL), never opened
in place, so a hard link made earlier cannot carry a write elsewhere. Every entry gets its
owner as it is made; directories are made 0700 and get their own modes (and times) once
every layer is applied.

Whiteouts: `.wh.NAME` removes NAME of the lower layers, `.wh..wh..opq` everything a
directory held in the lower layers; what the same layer adds stays, wherever in the tarball
its whiteouts are. Layers are streamed: memory does not grow with their size.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..utils.fs import DIR_FLAGS, NEW_FILE_FLAGS, remove_at

if TYPE_CHECKING:
    import tarfile

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_CHUNK = 1 << 20

Parts = tuple[str, ...]
# The final metadata of a directory: mode, mtime (None: leave it), uid, gid.
_DirMeta = tuple[int, "float | None", int, int]


@dataclass(frozen=True)
class Applied:
    """What applying the layers left out."""

    # Device nodes and fifos (never made on the runner).
    devices: int = 0
    # Members whose name or link target leads out of the directory, runs through a link,
    # or that have a type that is not made.
    refused: int = 0

    def warnings(self) -> list[str]:
        found = []
        if self.devices:
            what = "device node or fifo" if self.devices == 1 else "device nodes and fifos"
            found.append(f"{self.devices} {what} of the image left out")
        if self.refused:
            what = "entry" if self.refused == 1 else "entries"
            found.append(
                f"{self.refused} {what} of the image's layers left out: a name or link target "
                "leading out of the directory or through a symbolic link, or a type that is "
                "not written"
            )
        return found


class _Skip(Exception):
    """A member that is left out (and counted)."""


class _Missing(Exception):
    """A path that is not there (nothing to do)."""


def _parts(name: str) -> Parts:
    """A member name as components below the directory; `..` anywhere is refused."""
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise _Skip
    return parts


class LayerApplier:
    """Applies layer tarballs, in order, onto the open directory `root_fd`.

    `owner`: the (uid, gid) every entry gets when running as root; None keeps the image's
    own. `writable_dirs`: directories keep at least rwx for their owner, so the runner user
    can delete what it is given.
    """

    def __init__(self, root_fd: int, owner: tuple[int, int] | None, writable_dirs: bool) -> None:
        self.root = root_fd
        self.owner = owner
        self.writable_dirs = writable_dirs
        self.chown = os.geteuid() == 0
        self.dirs: dict[Parts, _DirMeta] = {}
        self.layer_paths: set[Parts] = set()
        self.devices = 0
        self.refused = 0

    # -- public ------------------------------------------------------------------------

    def apply(self, stream: IO[bytes]) -> None:
        """One layer tarball (plain or compressed), read as a stream."""
        import tarfile  # loaded when used: it costs milliseconds

        self.layer_paths = set()
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            while True:
                member = tar.next()
                if member is None:
                    break
                _forget_members(tar)
                try:
                    self._member(tar, member)
                except _Skip:
                    self.refused += 1
        self.layer_paths = set()

    def finish(self) -> Applied:
        """Give directories their modes, owners and times (deepest first)."""
        for parts, (mode, mtime, uid, gid) in sorted(
            self.dirs.items(), key=lambda item: len(item[0]), reverse=True
        ):
            try:
                fd = self._walk(parts, create=False)
            except (_Missing, _Skip):
                continue
            try:
                self._own(fd, uid, gid)
                os.fchmod(fd, (mode & 0o777) | (0o700 if self.writable_dirs else 0))
                if mtime is not None:
                    _set_time(fd, mtime)
            finally:
                os.close(fd)
        self.dirs = {}
        return Applied(devices=self.devices, refused=self.refused)

    # -- walking ---------------------------------------------------------------------------

    def _walk(self, parts: Parts, create: bool) -> int:
        """A descriptor of the directory `parts` below the root, never through a link;
        missing directories are made when `create` (_Missing otherwise); _Skip when a
        component is a link or not a directory."""
        fd = os.dup(self.root)
        try:
            for depth, part in enumerate(parts, start=1):
                try:
                    child = os.open(part, DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise _Missing from None
                    self._mkdir(fd, part, 0, 0)
                    self.dirs[parts[:depth]] = (0o755, None, 0, 0)
                    child = os.open(part, DIR_FLAGS, dir_fd=fd)
                except OSError as e:
                    if e.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise _Skip from None
                    raise
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _own(self, fd: int, uid: int, gid: int) -> None:
        if self.chown:
            os.fchown(fd, *(self.owner or (uid, gid)))

    def _mkdir(self, parent: int, name: str, uid: int, gid: int) -> None:
        """A new directory, 0700 until finish(), owned as it will be from the start: an
        output left behind by a killed run must still be the runner's to delete."""
        os.mkdir(name, 0o700, dir_fd=parent)
        if self.chown:
            os.chown(name, *(self.owner or (uid, gid)), dir_fd=parent, follow_symlinks=False)

    def _clear(self, parent: int, name: str) -> None:
        """Remove whatever `name` is in `parent` (a tree without following links)."""
        remove_at(parent, name)

    # -- members -------------------------------------------------------------------------

    def _member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = _parts(member.name)
        if not parts:
            return  # the directory itself keeps what it was given
        name = parts[-1]
        if name.startswith(WHITEOUT):
            self._whiteout(parts)
            return
        parent = self._walk(parts[:-1], create=True)
        try:
            self.layer_paths.update(parts[:depth] for depth in range(1, len(parts) + 1))
            if member.isdir():
                self._directory(parent, parts, member)
            elif member.isreg():
                self._file(tar, parent, name, member)
            elif member.issym():
                self._symlink(parent, name, member)
            elif member.islnk():
                self._hardlink(parent, parts, member)
            elif member.ischr() or member.isblk() or member.isfifo():
                # Not made on the runner; what it replaces in the image is gone all the same.
                self._clear(parent, name)
                self.devices += 1
            else:
                raise _Skip
        finally:
            os.close(parent)

    def _directory(self, parent: int, parts: Parts, member: tarfile.TarInfo) -> None:
        name = parts[-1]
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISDIR(st.st_mode):
            os.unlink(name, dir_fd=parent)
            st = None
        if st is None:
            self._mkdir(parent, name, member.uid, member.gid)
        self.dirs[parts] = (member.mode, member.mtime, member.uid, member.gid)

    def _file(self, tar: tarfile.TarFile, parent: int, name: str, member: tarfile.TarInfo) -> None:
        self._clear(parent, name)
        source = tar.extractfile(member)
        fd = os.open(name, NEW_FILE_FLAGS, 0o600, dir_fd=parent)
        with os.fdopen(fd, "wb") as out:
            if source is not None:
                shutil.copyfileobj(source, out, _CHUNK)
            out.flush()
            self._own(fd, member.uid, member.gid)
            os.fchmod(fd, member.mode & 0o777)
            _set_time(fd, member.mtime)

    def _symlink(self, parent: int, name: str, member: tarfile.TarInfo) -> None:
        if not member.linkname:
            raise _Skip
        self._clear(parent, name)
        os.symlink(member.linkname, name, dir_fd=parent)
        if self.chown:
            owner = self.owner or (member.uid, member.gid)
            os.chown(name, *owner, dir_fd=parent, follow_symlinks=False)
        _set_time(name, member.mtime, dir_fd=parent, follow=False)

    def _hardlink(self, parent: int, parts: Parts, member: tarfile.TarInfo) -> None:
        target = _parts(member.linkname)
        if not target or target == parts:
            raise _Skip
        try:
            source = self._walk(target[:-1], create=False)
        except _Missing:
            raise _Skip from None
        try:
            try:
                st = os.stat(target[-1], dir_fd=source, follow_symlinks=False)
            except FileNotFoundError:
                raise _Skip from None
            if not stat.S_ISREG(st.st_mode):
                raise _Skip
            self._clear(parent, parts[-1])
            os.link(
                target[-1], parts[-1], src_dir_fd=source, dst_dir_fd=parent, follow_symlinks=False
            )
        finally:
            os.close(source)

    def _whiteout(self, parts: Parts) -> None:
        where = parts[:-1]
        try:
            parent = self._walk(where, create=False)
        except _Missing:
            return
        try:
            if parts[-1] == OPAQUE:
                self._opaque(where)
                return
            hidden = parts[-1][len(WHITEOUT) :]
            if hidden in ("", ".", "..") or "/" in hidden:
                raise _Skip
            # A whiteout hides the lower layers only, never what its own layer adds.
            if (*where, hidden) not in self.layer_paths:
                self._clear(parent, hidden)
        finally:
            os.close(parent)

    def _opaque(self, top: Parts) -> None:
        """Everything below `top` but what this layer adds goes."""
        pending = [top]
        while pending:
            parts = pending.pop()
            try:
                fd = self._walk(parts, create=False)
            except (_Missing, _Skip):
                continue
            try:
                for entry in sorted(os.listdir(fd)):
                    path = (*parts, entry)
                    if path not in self.layer_paths:
                        self._clear(fd, entry)
                        continue
                    mode = os.stat(entry, dir_fd=fd, follow_symlinks=False).st_mode
                    if stat.S_ISDIR(mode):
                        pending.append(path)
            finally:
                os.close(fd)


def _forget_members(tar: tarfile.TarFile) -> None:
    """TarFile keeps every member it read or wrote, stream mode too: memory would grow with
    the layer. Nothing here looks a member up again."""
    tar.members = []  # type: ignore[attr-defined]  # not in typeshed, there since 2.x


def _set_time(
    target: int | str, mtime: float, dir_fd: int | None = None, follow: bool = True
) -> None:
    """Times are kept where the system takes them (a layer's may be out of range)."""
    with suppress(OSError, OverflowError, ValueError):
        os.utime(target, (mtime, mtime), dir_fd=dir_fd, follow_symlinks=follow)


class TreeTooLarge(Exception):
    """The tree holds more bytes than a pack may take."""


def pack_tree(top: Path, dest: Path | IO[bytes], limit: int | None = None) -> int:
    """Pack the tree at `top` (one apply_layers made, in a directory of the action's, or
    one no process can change any more) into the tarball `dest` (a path, or a file open for
    writing): entries relative to `top`, each directory's entries sorted, links stored as
    links and never followed, hard links once per file, owners and modes as on disk without
    user or group names, sockets, fifos and devices left out; contents streamed. Returns
    the bytes of file content packed; TreeTooLarge past `limit`."""
    import tarfile  # loaded when used: it costs milliseconds

    seen: dict[tuple[int, int], str] = {}
    packed = 0
    named, stream = (dest, None) if isinstance(dest, Path) else (None, dest)
    with tarfile.open(named, "w", stream, format=tarfile.PAX_FORMAT) as tar:
        pending = [""]
        while pending:
            relative = pending.pop()
            directory = os.path.join(top, relative) if relative else str(top)
            subdirs: list[str] = []
            for name in sorted(os.listdir(directory)):
                arcname = f"{relative}/{name}" if relative else name
                path = os.path.join(directory, name)
                st = os.lstat(path)
                info = tarfile.TarInfo(arcname)
                info.mode = stat.S_IMODE(st.st_mode)
                info.uid, info.gid = st.st_uid, st.st_gid
                info.uname = info.gname = ""
                info.mtime = st.st_mtime
                if stat.S_ISDIR(st.st_mode):
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                    subdirs.append(arcname)
                elif stat.S_ISLNK(st.st_mode):
                    info.type = tarfile.SYMTYPE
                    info.linkname = os.readlink(path)
                    tar.addfile(info)
                elif stat.S_ISREG(st.st_mode):
                    packed += st.st_size
                    if limit is not None and packed > limit:
                        raise TreeTooLarge(f"{top} holds more than {limit} bytes")
                    _add_file(tar, info, path, st, seen)
                _forget_members(tar)
            pending.extend(reversed(subdirs))
    return packed


def _add_file(
    tar: tarfile.TarFile,
    info: tarfile.TarInfo,
    path: str,
    st: os.stat_result,
    seen: dict[tuple[int, int], str],
) -> None:
    import tarfile  # loaded when used: it costs milliseconds

    key = (st.st_dev, st.st_ino)
    if st.st_nlink > 1 and key in seen:
        info.type = tarfile.LNKTYPE
        info.linkname = seen[key]
        tar.addfile(info)
        return
    if st.st_nlink > 1:
        seen[key] = info.name
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        info.size = os.fstat(fd).st_size
        tar.addfile(info, f)
