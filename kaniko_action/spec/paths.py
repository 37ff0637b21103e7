"""Resolving and validating the paths the inputs name: the build context and Dockerfile
(inside the workspace), the files the action reads (secret files, certificates and keys:
inside the workspace or RUNNER_TEMP), and the outputs (there, or wherever the job's user
could write them itself)."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..utils.fs import NotRegular, TooLarge, open_regular_file, read_regular_file
from ..utils.users import SEARCH, WRITE, JobUser


@dataclass(frozen=True)
class BuildPaths:
    """Real (symlink-free) absolute paths on the runner."""

    workspace: Path
    context: Path
    dockerfile: Path

    @property
    def dockerfile_in_context(self) -> bool:
        return is_within(self.dockerfile, self.context)


def workspace_of(env: Mapping[str, str]) -> str:
    """The workspace paths are relative to: GITHUB_WORKSPACE, else the current directory."""
    return env.get("GITHUB_WORKSPACE") or os.getcwd()


def is_within(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def _resolve(workspace: Path, name: str, value: str) -> Path:
    lexical = _absolute(workspace, value)
    if not is_within(lexical, workspace):
        raise InputError(name, f"'{value}' is outside the workspace {workspace}")
    if not os.path.lexists(lexical):
        raise InputError(name, f"'{value}' does not exist (looked for {lexical})")
    real = Path(os.path.realpath(lexical))
    if not is_within(real, workspace):
        raise InputError(
            name,
            f"'{value}' resolves to {real} through a symlink, outside the workspace {workspace}",
        )
    if not real.exists():
        raise InputError(name, f"'{value}' is a broken symlink (looked for {lexical})")
    return real


def context_directory(workspace: Path, name: str, value: str) -> Path:
    """The real path of a local directory an input names as a build context, confined to
    the workspace like `context` (a symlink only if it resolves inside)."""
    real = _resolve(workspace, name, value)
    if not real.is_dir():
        raise InputError(name, f"'{value}' is not a directory")
    return real


def resolve_paths(workspace: str, context: str, file: str, dockerfile: str) -> BuildPaths:
    """Apply the defaults and checks for `context`, `file` and its old name `dockerfile`."""
    ws = Path(os.path.realpath(workspace))
    if not ws.is_dir():
        raise InputError("workspace", f"{workspace} is not a directory")
    if file and dockerfile and os.path.normpath(file) != os.path.normpath(dockerfile):
        raise InputError(
            "file", f"'{file}' differs from 'dockerfile' ('{dockerfile}'); give only one of them"
        )
    file_input, file_value = (
        ("file", file) if file or not dockerfile else ("dockerfile", dockerfile)
    )

    if context:
        ctx = _resolve(ws, "context", context)
        if not ctx.is_dir():
            raise InputError("context", f"'{context}' is not a directory")
        if not file_value:
            df_lexical = Path(os.path.normpath(Path(context) / "Dockerfile"))
            file_value = str(df_lexical)
    else:
        file_value = file_value or "Dockerfile"

    df = _resolve(ws, file_input, file_value)
    if not df.is_file():
        raise InputError(file_input, f"'{file_value}' is not a regular file")
    if not context:
        ctx = df.parent
    return BuildPaths(workspace=ws, context=ctx, dockerfile=df)


def _absolute(workspace: Path, value: str) -> Path:
    path = Path(value)
    return Path(os.path.normpath(path if path.is_absolute() else workspace / path))


OCI_LAYOUT_MARKER = "oci-layout"
# The names sandbox/workdirs.py gives work directories (a new one is renamed from the second
# once its lock is held). No output may be written into one.
WORKDIR_PREFIX = "kaniko-build-"
NEW_WORKDIR_PREFIX = ".kaniko-build-new-"
# The lock file each work directory holds while its build lives.
WORKDIR_LOCK = "owner.lock"
_WORKDIR_NAMES = (WORKDIR_PREFIX, NEW_WORKDIR_PREFIX)


def _base_holding(real: Path, workspace: Path, runner_temp: Path | None) -> Path | None:
    """The workspace or RUNNER_TEMP that `real` is strictly inside, or None."""
    for base in (workspace, runner_temp):
        if base is not None and is_within(real, base) and real != base:
            return base
    return None


def confined(
    name: str,
    subject: str,
    workspace: Path,
    value: str,
    runner_temp: Path | None,
    show: bool = True,
) -> Path:
    """The real path `value` (relative to the workspace, or absolute) stands for, refused
    unless it is inside the workspace or RUNNER_TEMP, and not in a kaniko-build work
    directory there: where the files the action reads for an input must be.

    Symlinks are resolved before the check, so a committed `cert -> /elsewhere` cannot
    redirect a read, wherever along the path the link is; one that stays inside is
    followed. `subject` is how the message names the value (`show`: whether the path it
    resolved to may be shown).
    """
    lexical = _absolute(workspace, value)
    real = Path(os.path.realpath(lexical))
    if _base_holding(real, workspace, runner_temp) is None:
        allowed = _allowed(runner_temp)
        if show:
            shown = f"{real}" + (f" (through a symlink in '{value}')" if real != lexical else "")
            raise InputError(name, f"{subject} resolves to {shown}, which is not inside {allowed}")
        link = " through a symlink" if real != lexical else ""
        raise InputError(name, f"{subject} resolves{link} to a path not inside {allowed}")
    if _in_work_directory(real, workspace, (runner_temp,)):
        raise InputError(name, f"{subject} is inside a kaniko-build work directory")
    return real


def _allowed(runner_temp: Path | None) -> str:
    return "the workspace" + (" or RUNNER_TEMP" if runner_temp is not None else "")


def _in_work_directory(real: Path, workspace: Path, bases: Sequence[Path | None]) -> bool:
    """Whether `real` is in a kaniko-build work directory made in one of `bases` (RUNNER_TEMP,
    the `work-dir` input), which a build owns and a later run may remove."""
    for base in bases:
        if base is None or real == base or not is_within(real, base) or is_within(real, workspace):
            continue
        if real.relative_to(base).parts[0].startswith(_WORKDIR_NAMES):
            return True
    return False


def output_path(
    name: str,
    workspace: Path,
    value: str,
    runner_temp: Path | None = None,
    work_base: Path | None = None,
    *,
    user: JobUser | None,
) -> Path | None:
    """Where an output file or directory goes, as a real path (see output_place).

    An existing directory is never replaced, except an OCI layout that an earlier build
    wrote to the same `oci-layout-path`.
    """
    if not value:
        return None
    real = output_place(name, f"'{value}'", workspace, value, runner_temp, work_base, user)
    if name == "tar-path" and os.path.lexists(real):
        if os.path.isdir(real):
            raise InputError(name, f"'{value}' is a directory; give a file name")
        if not os.path.isfile(real):
            raise InputError(name, f"'{value}' exists and is not a regular file")
    if name == "oci-layout-path" and os.path.lexists(real):
        if not os.path.isdir(real):
            raise InputError(name, f"'{value}' exists and is not a directory")
        if os.listdir(real) and not os.path.isfile(real / OCI_LAYOUT_MARKER):
            raise InputError(
                name,
                f"'{value}' is a directory that is not empty and holds no OCI layout; "
                "choose a new path (an existing directory is never replaced)",
            )
    return real


def output_place(
    name: str,
    subject: str,
    workspace: Path,
    value: str,
    runner_temp: Path | None,
    work_base: Path | None,
    user: JobUser | None,
) -> Path:
    """The real path an output `value` (relative to the workspace, or absolute) is written
    to, as root, by the rules below; InputError naming `name` otherwise (`subject`: how the
    message names the value).

    - Never `/`, nor a path holding the workspace, RUNNER_TEMP or `work_base` (the
      `work-dir` input), nor one in a kaniko-build work directory (which a build owns).
    - Inside the workspace or RUNNER_TEMP (where build-push-action users put tarballs shared
      between jobs): symlinks are resolved first, so a committed `out -> /elsewhere` cannot
      redirect the write; a link that stays inside is followed.
    - Anywhere else (build-push-action's examples write /tmp/image.tar): only a path without
      a symlink on the way (the write walks it from / without following one, so a link
      swapped in later is refused too), and only where the job's user `user` could make it
      by mode bits itself: search on every directory on the way, write on the one it is
      made in, and in a sticky directory (/tmp) an existing entry of its own. None for a
      job run as root: anywhere root may.

    Every existing component on the way must be a directory.
    """
    lexical = _absolute(workspace, value)
    real = Path(os.path.realpath(lexical))
    if real == Path("/"):
        raise InputError(name, f"{subject} resolves to /; give the output a path of its own")
    for held, what in ((workspace, "the workspace"), (runner_temp, "RUNNER_TEMP"),
                       (work_base, "the directory of 'work-dir'")):  # fmt: skip
        if held is not None and is_within(held, real):
            raise InputError(name, f"{subject} holds {what}; give the output a path of its own")
    if _in_work_directory(real, workspace, (runner_temp, work_base)):
        raise InputError(name, f"{subject} is inside a kaniko-build work directory")
    if _base_holding(real, workspace, runner_temp) is not None:
        user = None  # the workspace's and RUNNER_TEMP's outputs are given to their owner
    elif _base_holding(lexical, workspace, runner_temp) is not None:
        raise InputError(
            name,
            f"{subject} resolves to {real} through a symlink, which is not inside "
            f"{_allowed(runner_temp)}; a link there must stay inside",
        )
    elif real != lexical:
        raise InputError(
            name,
            f"{subject} goes through the symlink {_first_link(lexical)}: outside the "
            "workspace and RUNNER_TEMP an output's path must have no symlink on the way "
            "(give the path it leads to)",
        )
    why = _unwritable(real, user)
    if why is not None:
        raise InputError(name, f"{subject}: {why}")
    return real


def _first_link(path: Path) -> Path:
    """The first symlink on the way to `path` (`path` itself when none is left)."""
    current = Path("/")
    for part in path.parts[1:]:
        current = current / part
        if current.is_symlink():
            return current
    return path


def _shown(path: Path, st: os.stat_result) -> str:
    return f"{path} (uid {st.st_uid}, gid {st.st_gid}, mode {stat.S_IMODE(st.st_mode):o})"


def _unwritable(real: Path, user: JobUser | None) -> str | None:
    """Why `real`, a path without symlinks, cannot be written: a component on the way that
    is not a directory, or what `user`'s mode bits do not allow (None: root, no mode check);
    None when nothing stands in the way."""
    current = Path("/")
    st = os.lstat(current)
    cannot = (
        f"outside the workspace and RUNNER_TEMP the action writes only what the job's user "
        f"(uid {user.uid}) could write itself, and "
        if user is not None
        else ""
    )
    for part in real.parts[1:]:
        if user is not None and not user.may(st, SEARCH):
            return f"{cannot}{_shown(current, st)} does not let it search"
        following = current / part
        try:
            entry = os.lstat(following)
        except FileNotFoundError:
            if user is not None and not user.may(st, WRITE | SEARCH):
                return f"{cannot}{_shown(current, st)} does not let it create {part}"
            return None
        except OSError as e:
            return f"{following} cannot be looked up ({e.strerror or e})"
        if following == real:
            return None if user is None else _unreplaceable(real, st, entry, user, cannot)
        if not stat.S_ISDIR(entry.st_mode):
            return f"{following} on the way is not a directory"
        current, st = following, entry
    return None


def _unreplaceable(
    real: Path, parent: os.stat_result, entry: os.stat_result, user: JobUser, cannot: str
) -> str | None:
    """Why `user` could not replace the existing `real` (`entry`) in its directory
    (`parent`): renamed over, or, a directory, emptied first."""
    if not user.may(parent, WRITE | SEARCH):
        return f"{cannot}{_shown(real.parent, parent)} does not let it replace {real.name}"
    if not user.may_replace(parent, entry):
        return (
            f"{cannot}{real} belongs to uid {entry.st_uid} in the sticky directory "
            f"{real.parent}, so only that user may replace it"
        )
    if stat.S_ISDIR(entry.st_mode) and os.listdir(real) and not user.may(entry, WRITE | SEARCH):
        return f"{cannot}{_shown(real, entry)} does not let it remove what is in it"
    return None


def output_base(path: Path, workspace: Path, runner_temp: Path | None) -> Path:
    """Where the action starts the walk to an output's path (output_place accepted it):
    the workspace or RUNNER_TEMP it is inside, else `/`."""
    return _base_holding(path, workspace, runner_temp) or Path("/")


def runner_dir(name: str, workspace: Path, value: str) -> Path | None:
    """An existing directory on the runner, relative to the workspace or absolute."""
    if not value:
        return None
    path = _absolute(workspace, value)
    if not path.is_dir():
        raise InputError(name, f"'{value}' is not a directory (looked for {path})")
    return path


# The largest files the inputs may name: a secret as BuildKit caps it (MaxSecretSize in
# moby/buildkit session/secrets/secretsprovider), a certificate or key generously.
SECRET_FILE_LIMIT = 500 * 1024
CERTIFICATE_FILE_LIMIT = 1024 * 1024


def input_file(
    name: str,
    subject: str,
    workspace: Path,
    value: str,
    runner_temp: Path | None,
    limit: int,
    show: bool = True,
) -> Path:
    """A file an input names for the action to read (a secret file, a certificate or key):
    confined like an output path, and a regular file of at most `limit` bytes now. It is
    read later with read_input, which checks the same again on the descriptor it reads."""
    real = confined(name, subject, workspace, value, runner_temp, show)
    try:
        os.close(open_regular_file(real, limit))
    except OSError as e:
        raise InputError(name, _unreadable(subject, e, limit)) from None
    return real


def read_input(name: str, subject: str, path: Path, limit: int) -> bytes:
    """The content of a file input_file accepted, read without following a symlink; a file
    replaced since (by a link, a fifo, something larger) is an InputError."""
    try:
        return read_regular_file(path, limit)
    except OSError as e:
        raise InputError(name, _unreadable(subject, e, limit)) from None


def _unreadable(subject: str, error: OSError, limit: int) -> str:
    if isinstance(error, NotRegular):
        return f"{subject} is not a regular file"
    if isinstance(error, TooLarge):
        size = f"{limit >> 20} MiB" if limit % (1 << 20) == 0 else f"{limit >> 10} KiB"
        return f"{subject} is larger than {size}"
    if isinstance(error, FileNotFoundError):
        return f"{subject} does not exist"
    return f"{subject} cannot be read ({error.strerror or error})"


def work_dir(workspace: Path, value: str) -> Path | None:
    """The `work-dir` input as a real path: an existing directory, absolute or relative to
    the workspace, where the action makes its work directories instead of RUNNER_TEMP.

    Refused inside the workspace (the work directories are root's, and the runner must be
    able to delete the workspace), holding it (stale work directories are looked for among
    its entries, where a checkout could be named like one), and at or below a name a later
    run would take for a stale work directory and remove.
    """
    if not value:
        return None
    lexical = _absolute(workspace, value)
    real = Path(os.path.realpath(lexical))
    if not real.is_dir():
        raise InputError("work-dir", f"'{value}' is not a directory (looked for {lexical})")
    shown = f"'{value}'" + (f" resolves to {real}, which" if real != lexical else "")
    if is_within(real, workspace):
        raise InputError(
            "work-dir",
            f"{shown} is inside the workspace {workspace}: the work directories are root's and "
            "the runner must be able to delete the workspace; choose a directory outside it, "
            "such as a volume of its own",
        )
    if is_within(workspace, real):
        raise InputError(
            "work-dir",
            f"{shown} holds the workspace {workspace}: choose a directory of its own (stale "
            "work directories are looked for in it)",
        )
    named = [part for part in real.parts if part.startswith(_WORKDIR_NAMES)]
    if named:
        raise InputError(
            "work-dir",
            f"{shown} is named like a kaniko-build work directory ('{named[0]}'), which a "
            "later run would take for a stale one and remove; choose another name",
        )
    return real


# The file that marks a directory as a kaniko-build layer cache (type=local): only such a
# directory, or an empty one, is ever replaced by a cache-to.
LAYER_CACHE_MARKER = "kaniko-build-cache"


def cache_directory(
    name: str,
    workspace: Path,
    runner_temp: Path | None,
    value: str | None,
    *,
    writes: bool,
    work_base: Path | None = None,
    user: JobUser | None = None,
) -> Path | None:
    """The real path of a local cache directory (`src=` or `dest=`), relative to the
    workspace or absolute: anywhere on the runner (build-push-action's examples use /tmp),
    but never in a kaniko-build work directory. A `dest`, which root replaces by the new
    cache, is placed as an output is (`output_place`: never holding the workspace or
    RUNNER_TEMP, outside them only where the job's `user` could write it) and must be a
    directory if it exists."""
    if not value:
        return None
    if writes:
        real = output_place(name, f"'{value}'", workspace, value, runner_temp, work_base, user)
        if os.path.lexists(real) and not os.path.isdir(real):
            raise InputError(name, f"'{value}' exists and is not a directory")
        return real
    real = Path(os.path.realpath(_absolute(workspace, value)))
    if _in_work_directory(real, workspace, (runner_temp, work_base)):
        raise InputError(name, f"'{value}' is inside a kaniko-build work directory")
    return real
