"""Named build contexts (`build-contexts`) in the chroot: each local directory staged beside
kaniko's context, and the chroot's copy of the Dockerfile rewritten to use them.

A local directory is copied to `CONTEXTS_DIR/<index>`, outside kaniko's context, so that a
`COPY . /app` of the main context never takes it along; what its own `.dockerignore`
excludes is left out, as BuildKit leaves it out, and links are copied as links, never
followed on the runner. `COPY --from=name` reads it through a path relative to the context
(`../.build-contexts/<index>/...`), and the main context's ignore rules get exceptions for
those paths, so no pattern of theirs can hide it. The user's Dockerfile is never changed:
the rewritten copy goes to NAMED_DIR with the ignore file kaniko will read beside it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath

from ..dockerfile.ignore import IgnoreFileError, Matcher, UnsupportedPattern, read_patterns
from ..dockerfile.named import Rewrites, rewrite_dockerfile
from ..errors import InputError
from ..sandbox.layout import KANIKO_DIR, ChrootLayout, host_path
from ..spec.contexts import INPUT, NamedContext
from ..utils.fs import NotRegular, TooLarge, read_regular_file
from .context import MAX_IGNORE_FILE, place_directory, read_staged

CONTEXTS_DIR = KANIKO_DIR / ".build-contexts"
NAMED_DIR = KANIKO_DIR / "named"

Contexts = Sequence[tuple[NamedContext, "Path | None"]]


def staged_dir(index: int) -> PurePosixPath:
    return CONTEXTS_DIR / str(index)


def _matcher(context: NamedContext, directory: Path) -> Matcher:
    """The rules of the `.dockerignore` at the directory's root (BuildKit applies it to a
    named local context); no rules when there is none."""
    path = directory / ".dockerignore"
    if not os.path.lexists(path):
        return Matcher([])
    try:
        data = read_regular_file(path, MAX_IGNORE_FILE)
    except (NotRegular, TooLarge) as e:
        problem = "is not a regular file" if isinstance(e, NotRegular) else "is too large"
        raise InputError(
            INPUT, f"{context.name}: {context.directory}/.dockerignore {problem}"
        ) from None
    try:
        return Matcher(read_patterns(data))
    except (IgnoreFileError, UnsupportedPattern) as e:
        raise InputError(INPUT, f"{context.name}: {context.directory}/.dockerignore: {e}") from None


def stage_named_contexts(root: str, contexts: Contexts, workspace: Path | None = None) -> None:
    """Copy each local directory context into the chroot (before the executor starts)."""
    for index, (context, directory) in enumerate(contexts):
        if directory is None:
            continue
        staged = host_path(root, staged_dir(index))
        place_directory(directory, staged, _matcher(context, directory), workspace)


def rewrites(contexts: Contexts, layout: ChrootLayout) -> Rewrites:
    images = {c.key: c.image for c, _ in contexts if c.image is not None}
    dirs = {
        c.key: os.path.relpath(staged_dir(index), layout.context_dir)
        for index, (c, directory) in enumerate(contexts)
        if directory is not None
    }
    return Rewrites(images, dirs)


def exceptions(layout: ChrootLayout) -> bytes:
    """Ignore-file lines that keep the staged directories visible whatever came before:
    kaniko matches them by their path relative to its context, or absolute."""
    relative = os.path.relpath(CONTEXTS_DIR, layout.context_dir)
    lines = [f"!{relative}", f"!{relative}/**", f"!**{CONTEXTS_DIR}", f"!**{CONTEXTS_DIR}/**"]
    return ("\n" + "\n".join(lines) + "\n").encode()


def write_named(root: str, layout: ChrootLayout, contexts: Contexts) -> ChrootLayout:
    """The chroot's Dockerfile rewritten for the named contexts, with the ignore file kaniko
    would have read (plus the exceptions, when a directory is staged) beside it; the returned
    layout points the executor at it. Both are read from the staged chroot."""
    if not contexts:
        return layout
    text = read_staged(root, layout.dockerfile)
    if text is None:
        raise InputError("file", f"{layout.dockerfile} is not a regular file in the chroot")
    wanted = rewrites(contexts, layout)
    rewritten = rewrite_dockerfile(text.decode("utf-8"), wanted)
    dockerfile = NAMED_DIR / layout.dockerfile.name
    target = Path(host_path(root, dockerfile))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(rewritten, encoding="utf-8")
    ignore_name = layout.dockerfile.name + ".dockerignore"
    ignore = read_staged(root, layout.dockerfile.with_name(ignore_name))
    if wanted.dirs:
        if ignore is None:
            ignore = read_staged(root, layout.context_dir / ".dockerignore") or b""
        ignore += exceptions(layout)
    if ignore is not None:
        target.with_name(ignore_name).write_bytes(ignore)
    return replace(layout, dockerfile=dockerfile)
