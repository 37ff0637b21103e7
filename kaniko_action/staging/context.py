"""Placing the build context in the chroot: what kaniko reads, and nothing it never opens.

kaniko applies .dockerignore itself, path by path, whenever it copies from the context, so the
chroot's context only has to let kaniko read what it would read from the whole one, under the
same ignore file. `place_context` walks the runner's context and
- copies (reflinks where the filesystem has them) every file a COPY may take: those the ignore
  rules keep, plus the Dockerfile and the ignore file kaniko reads;
- leaves an empty stand-in with the same name and mode for every excluded file it meets, and
  an empty directory for a directory whose whole content is excluded (dockerignore.Matcher
  says when no exception can bring anything below it back), so listings, wildcards and
  sources named in the Dockerfile resolve as they would against the whole context;
- keeps symlinks as symlinks, never letting the runner's kernel follow one;
- for each source a COPY or ADD names, stages what kaniko meets looking it up: links on the
  way are followed (inside the chroot's view), a directory reached through a link gets what
  the ignore rules keep under the name used, and a file ADD names gets its content, since
  kaniko unpacks a local archive whatever the rules say.
When the ignore file or the Dockerfile says something whose effect cannot be reproduced
exactly (an ADD source only known during the build, a pattern this does not model), the whole
context is staged and `ContextReport.reason` says why.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..dockerfile.ignore import (
    IgnoreFileError,
    Matcher,
    UnsupportedPattern,
    decode,
    go_clean,
    read_patterns,
)
from ..dockerfile.parser import ContextSources, context_sources, parse
from ..sandbox.layout import ChrootLayout, host_path
from ..spec.gha import DIRECTORY_PREFIX as GHA_DIRECTORY_PREFIX
from ..spec.paths import BuildPaths
from ..utils.filecopy import Copier, CopyStats
from ..utils.fs import open_regular_file

MAX_LINKS = 40  # the kernel's limit on links followed while resolving one path
MAX_IGNORE_FILE = 16 * 1024 * 1024


@dataclass
class ContextReport:
    """What placing the context did."""

    files: int = 0  # files placed with their content
    stand_ins: int = 0  # empty files standing in for excluded ones
    skipped_dirs: int = 0  # directories left empty: everything below them is excluded
    links: int = 0
    reason: str | None = None  # why the whole context was staged, if it was
    copy: CopyStats = field(default_factory=CopyStats)


Visit = Callable[[bytes, os.stat_result], None]


class ChrootView:
    """The chroot as kaniko finds it when it starts: the context read from the runner's
    directory, everything else from the chroot being prepared. Paths are resolved one
    component at a time with lstat and readlink, as the kernel would inside the chroot."""

    def __init__(self, root: bytes, context_dir: bytes, context: bytes) -> None:
        self.root = root.rstrip(b"/")
        self.context_dir = context_dir
        self.context = context

    def host(self, path: bytes) -> tuple[bytes, bytes | None]:
        """The runner path of a chroot path, and its path relative to the context (if in it)."""
        if path == self.context_dir:
            return self.context, b""
        if path.startswith(self.context_dir + b"/"):
            rel = path[len(self.context_dir) + 1 :]
            return self.context + b"/" + rel, rel
        return self.root + path, None

    def resolve(
        self, path: bytes, visit: Visit, *, follow_last: bool = True
    ) -> tuple[bytes, os.stat_result] | None:
        """Look up the absolute chroot `path`, following links (the last one only if
        `follow_last`); `visit(rel, lstat)` sees every context path looked at on the way.
        The path found and its lstat, or None if there is none."""
        pending = deque(path.split(b"/"))
        current = b"/"
        found: tuple[bytes, os.stat_result] | None = None
        followed = 0
        while pending:
            part = pending.popleft()
            if part in (b"", b"."):
                continue
            if part == b"..":
                current = current.rsplit(b"/", 1)[0] or b"/"
                found = None
                continue
            candidate = (current.rstrip(b"/") + b"/" + part) if current != b"/" else b"/" + part
            host, rel = self.host(candidate)
            try:
                st = os.lstat(host)
            except OSError:
                if not self.context_dir.startswith(candidate + b"/"):
                    return None
                # A directory leading to the context, made with it if not there yet.
                st = os.lstat(self.root)
            if rel:
                visit(rel, st)
            if stat.S_ISLNK(st.st_mode) and (pending or follow_last):
                followed += 1
                if followed > MAX_LINKS:
                    return None
                target = os.readlink(host)
                if target.startswith(b"/"):
                    current = b"/"
                pending.extendleft(reversed(target.split(b"/")))
                continue
            if pending and not stat.S_ISDIR(st.st_mode):
                return None
            current = candidate
            found = (candidate, st)
        if found is None:  # the path ended on "/" or ".."
            host, rel = self.host(current)
            try:
                return current, os.lstat(host)
            except OSError:
                return None
        return found


def _go_join(base: bytes, name: bytes) -> bytes:
    """filepath.Join(base, name) for an absolute base: cleaned, `..` stops at the root."""
    return go_clean(decode(base + b"/" + name)).encode("utf-8", "surrogateescape")


class _Stager:
    def __init__(
        self,
        source: bytes,
        dest: bytes,
        matcher: Matcher | None,
        report: ContextReport,
        hidden_prefix: bytes | None = None,
    ) -> None:
        self.source = source
        self.dest = dest
        self.matcher = matcher
        self.report = report
        # Top-level names that are not part of the context at all (the action's own).
        self.hidden_prefix = hidden_prefix
        self.copier = Copier()
        self.copier.stats = report.copy
        self.touched: set[bytes] = set()  # directories whose times change after their walk

    def _src(self, rel: bytes) -> bytes:
        return self.source + b"/" + rel if rel else self.source

    def _dst(self, rel: bytes) -> bytes:
        return self.dest + b"/" + rel if rel else self.dest

    def _excluded(self, name: bytes) -> bool:
        return self.matcher is not None and self.matcher.excludes(decode(name))

    def _nothing_below(self, name: bytes) -> bool:
        return self.matcher is not None and self.matcher.excludes_all_below(decode(name))

    def _finish_dir(self, rel: bytes, st: os.stat_result) -> None:
        os.chmod(self._dst(rel), stat.S_IMODE(st.st_mode))
        os.utime(self._dst(rel), ns=(st.st_atime_ns, st.st_mtime_ns))

    def _create(self, rel: bytes, st: os.stat_result, with_content: bool) -> None:
        if with_content:
            self.copier.copy_file(self._src(rel), self._dst(rel))
            self.report.files += 1
            return
        fd = os.open(self._dst(rel), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
        finally:
            os.close(fd)
        self.report.stand_ins += 1

    def file(self, rel: bytes, st: os.stat_result, with_content: bool, stand_in: bool) -> None:
        """Place a regular file: with its content, or (if `stand_in`) as an empty stand-in.
        A stand-in already there gets its content when asked."""
        if not (with_content or stand_in):
            return
        try:
            self._create(rel, st, with_content)
        except FileExistsError:
            if not with_content or os.lstat(self._dst(rel)).st_size == st.st_size:
                return
            os.unlink(self._dst(rel))
            self.report.stand_ins -= 1
            self._create(rel, st, with_content)

    def link(self, rel: bytes, st: os.stat_result) -> None:
        """Place a symlink as a symlink; what it points to is not looked at."""
        dst = self._dst(rel)
        try:
            os.symlink(os.readlink(self._src(rel)), dst)
        except FileExistsError:
            return
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
        self.report.links += 1

    def tree(self, rel: bytes, *, keep_all: bool = False, alias: bytes | None = None) -> None:
        """Stage what is below the directory `rel`, whose own entry is in place.

        Paths are matched by their names below `alias` when kaniko reaches the directory
        through a link (the ignore rules see that name, not the real one); then only what
        those names keep is added. Otherwise every entry is placed, excluded files as
        stand-ins, and directories with nothing kept below them are left empty."""
        whole_shape = alias is None
        base = rel if alias is None else alias
        stack: list[tuple[bytes, bytes, os.stat_result, bool]] = [
            (rel, base, os.lstat(self._src(rel)), False)
        ]
        while stack:
            current, name, st, done = stack.pop()
            if done:
                self._finish_dir(current, st)
                continue
            stack.append((current, name, st, True))
            with os.scandir(self._src(current)) as entries:
                for entry in entries:
                    if (
                        not current
                        and self.hidden_prefix is not None
                        and entry.name.startswith(self.hidden_prefix)
                    ):
                        continue
                    child = current + b"/" + entry.name if current else entry.name
                    child_name = name + b"/" + entry.name if name else entry.name
                    est = entry.stat(follow_symlinks=False)
                    mode = est.st_mode
                    if stat.S_ISDIR(mode):
                        below = keep_all or not self._nothing_below(child_name)
                        if whole_shape or below or not self._excluded(child_name):
                            with contextlib.suppress(FileExistsError):
                                os.mkdir(self._dst(child), 0o700)
                            if below:
                                stack.append((child, child_name, est, False))
                            else:
                                self.report.skipped_dirs += whole_shape
                                self._finish_dir(child, est)
                    elif stat.S_ISREG(mode):
                        keep = keep_all or not self._excluded(child_name)
                        self.file(child, est, keep, stand_in=whole_shape)
                    elif stat.S_ISLNK(mode) and (
                        whole_shape or keep_all or not self._excluded(child_name)
                    ):
                        self.link(child, est)
                    # Sockets, fifos and devices are left out: kaniko would hang on a fifo.

    def ensure(self, rel: bytes, st: os.stat_result, with_content: bool) -> None:
        """Make sure the context path `rel` is staged, with the directories leading to it."""
        parts = rel.split(b"/")
        for depth in range(1, len(parts)):
            ancestor = b"/".join(parts[:depth])
            if not os.path.lexists(self._dst(ancestor)):
                ancestor_st = os.lstat(self._src(ancestor))
                if not stat.S_ISDIR(ancestor_st.st_mode):
                    return
                os.mkdir(self._dst(ancestor), 0o700)
                self._finish_dir(ancestor, ancestor_st)
                self.touched.add(b"/".join(parts[: depth - 1]))
        existed = os.path.lexists(self._dst(rel))
        if stat.S_ISDIR(st.st_mode):
            if not existed:
                os.mkdir(self._dst(rel), 0o700)
                self._finish_dir(rel, st)
        elif stat.S_ISREG(st.st_mode):
            self.file(rel, st, with_content, stand_in=True)
        elif stat.S_ISLNK(st.st_mode):
            self.link(rel, st)
        if not existed:
            self.touched.add(rel.rsplit(b"/", 1)[0] if b"/" in rel else b"")

    def follow(
        self,
        view: ChrootView,
        path: bytes,
        *,
        follow_last: bool,
        read_file: bool,
        name: bytes | None = None,
    ) -> None:
        """Stage what kaniko meets looking up the chroot `path`: the directories and links on
        the way, and what it finds. A file gets its content if `read_file`, or if its
        `name` (the context-relative path kaniko matches) is kept; a directory reached by
        another name gets what that name keeps below it."""

        def visit(rel: bytes, st: os.stat_result) -> None:
            if stat.S_ISLNK(st.st_mode) or stat.S_ISDIR(st.st_mode):
                self.ensure(rel, st, with_content=False)

        found = view.resolve(path, visit, follow_last=follow_last)
        if found is None:
            return
        real, st = found
        _, rel = view.host(real)
        if rel is None:
            return
        if stat.S_ISREG(st.st_mode):
            keep = read_file or (name is not None and not self._excluded(name))
            self.ensure(rel, st, with_content=keep)
        elif stat.S_ISDIR(st.st_mode) and name is not None and name != rel:
            self.tree(rel, alias=name)

    def restore_times(self) -> None:
        for rel in sorted(self.touched, key=len, reverse=True):
            st = os.lstat(self._src(rel))
            os.utime(self._dst(rel), ns=(st.st_atime_ns, st.st_mtime_ns))


def _ignore_rules(
    view: ChrootView, layout: ChrootLayout, read: Callable[[bytes], None]
) -> tuple[Matcher | None, str | None]:
    """The ignore rules kaniko will use, or None and the reason they cannot be relied on.

    kaniko reads `<Dockerfile>.dockerignore` if it exists (following links), else the
    context's `.dockerignore`. `read(path)` is told which chroot path it read."""
    candidates = (
        str(layout.dockerfile) + ".dockerignore",
        str(layout.context_dir / ".dockerignore"),
    )
    for candidate in candidates:
        path = candidate.encode("utf-8", "surrogateescape")
        found = view.resolve(path, lambda rel, st: None)
        if found is None:
            continue
        read(path)
        final, st = found
        if not stat.S_ISREG(st.st_mode):
            return None, f"{candidate} is not a regular file"
        if st.st_size > MAX_IGNORE_FILE:
            return None, f"{candidate} is larger than {MAX_IGNORE_FILE} bytes"
        data = _read_found(view, final, MAX_IGNORE_FILE + 1)
        try:
            return Matcher(read_patterns(data)), None
        except (IgnoreFileError, UnsupportedPattern) as e:
            return None, f"{candidate}: {e}"
    return Matcher([]), None


def _read_found(view: ChrootView, final: bytes, limit: int) -> bytes:
    """Up to `limit` bytes of the file `view.resolve` found at chroot path `final`."""
    host, _ = view.host(final)
    with os.fdopen(open_regular_file(os.fsdecode(host), limit), "rb") as f:
        return f.read(limit)


def read_staged(root: str, path: PurePosixPath) -> bytes | None:
    """The content of chroot `path` in a populated chroot, following links the way the
    kernel would inside it, never out of it; None if it is no regular file there. What a
    process in the chroot reads at that path, before any RUN step changed it."""
    encoded = os.fsencode(root)
    view = ChrootView(encoded, b"/", encoded)
    found = view.resolve(str(path).encode("utf-8", "surrogateescape"), lambda rel, st: None)
    if found is None or not stat.S_ISREG(found[1].st_mode):
        return None
    return _read_found(view, found[0], found[1].st_size + 1)


def place_context(root: str, paths: BuildPaths, layout: ChrootLayout) -> ContextReport:
    """Stage the context at the layout's context directory (which must not exist yet).

    Call it after the Dockerfile of a build whose Dockerfile is outside the context has been
    placed, with its ignore file: kaniko's choice of ignore file depends on it. The rest of
    the chroot may come before or after: a path leading out of the context to something not
    there yet only makes the staging keep more."""
    report = ContextReport()
    source = os.fsencode(paths.context)
    dest = os.fsencode(host_path(root, layout.context_dir))
    context_dir = os.fsencode(str(layout.context_dir))
    view = ChrootView(os.fsencode(root), context_dir, source)

    read: list[bytes] = []  # chroot paths of files kaniko reads whatever the rules say
    matcher, reason = _ignore_rules(view, layout, read.append)
    if paths.dockerfile_in_context:
        read.append(os.fsencode(str(layout.dockerfile)))
    sources = _sources(paths.dockerfile)
    if matcher is not None and sources is None:
        matcher, reason = None, "the Dockerfile is not UTF-8 text"
    elif matcher is not None and sources is not None and sources.add_unknown:
        matcher, reason = None, "an ADD source is only known during the build"
    report.reason = reason

    stager = _Stager(source, dest, matcher, report, hidden_names(paths.context, paths.workspace))
    os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
    os.mkdir(dest, 0o700)
    stager.tree(b"", keep_all=matcher is None)
    for path in read:
        stager.follow(view, path, follow_last=True, read_file=True)
    if matcher is not None and sources is not None:
        # A source kaniko looks up by name must resolve as in the whole context; ADD also
        # opens a file it names (following links) to see whether it is an archive.
        for source_name, is_add in [(s, True) for s in sources.unpacked] + [
            (s, False) for s in sources.named
        ]:
            path = _go_join(context_dir, os.fsencode(source_name))
            _, name = view.host(path)
            if is_add:
                stager.follow(view, path, follow_last=True, read_file=True)
            stager.follow(view, path, follow_last=False, read_file=False, name=name)
    stager.restore_times()
    return report


def _sources(dockerfile: Path) -> ContextSources | None:
    fd = os.open(dockerfile, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        data = f.read()
    try:
        return context_sources(parse(data.decode("utf-8")))
    except UnicodeDecodeError:
        return None


def hidden_names(directory: Path, workspace: Path) -> bytes | None:
    """The prefix of top-level names a context at `directory` never holds: the GitHub
    Actions cache's directories at the top of the workspace (spec/gha.py) are the action's,
    only there while it runs."""
    return os.fsencode(GHA_DIRECTORY_PREFIX) if directory == workspace else None


def place_directory(
    source: Path, dest: str, matcher: Matcher, workspace: Path | None = None
) -> ContextReport:
    """Copy the directory `source` to the new runner directory `dest`, leaving out what
    `matcher` excludes (no stand-ins: nothing excluded is there at all) and, when `source` is
    the `workspace`, the action's own directories. Links stay links, never followed;
    sockets, fifos and devices are left out."""
    report = ContextReport()
    hidden = hidden_names(source, workspace) if workspace is not None else None
    stager = _Stager(os.fsencode(source), os.fsencode(dest), matcher, report, hidden)
    os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
    os.mkdir(dest, 0o700)
    stager.tree(b"", alias=b"")
    return report
