"""A local layer cache around one build: its entries into the chroot before kaniko starts,
and the ones the build used or made out to `cache-to`'s directory after it succeeded
(staging/layer_cache.py does the copying and checking). A cache never fails a build: what
cannot be read or written is a warning, and the build goes on (or ends) as without it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..executor.log import LogFacts
from ..sandbox.chroot import Sandbox
from ..sandbox.layout import ChrootLayout, host_path
from ..spec.build_spec import BuildSpec
from ..staging.collect import owner_of
from ..staging.layer_cache import ENTRY, collect_layer_cache, stage_layer_cache
from ..utils.fs import remove_tree, walk_beneath
from .context import RunContext


def restore_cache(spec: BuildSpec, sandbox: Sandbox, layout: ChrootLayout, ctx: RunContext) -> None:
    """Copy cache-from's entries into the chroot (made empty without one)."""
    local = spec.local_cache
    if local is None:
        return
    directory = Path(host_path(str(sandbox.root), layout.layer_cache_dir))
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    if local.src is None:
        return
    try:
        copied = stage_layer_cache(local.src, directory)
    except OSError as e:
        remove_tree(directory)
        directory.mkdir(mode=0o755)
        ctx.workflow.warning(
            f"input 'cache-from': the layer cache {local.src} cannot be read "
            f"({e.strerror or e}): building without it"
        )
        return
    if copied is None:
        ctx.workflow.echo(f"Layer cache: {local.src} does not exist yet")
        return
    ctx.workflow.echo(f"Layer cache: {len(copied.keys)} entries from {local.src}")
    warning = copied.describe(f"input 'cache-from' ({local.src})")
    if warning:
        ctx.workflow.warning(warning)


def save_cache(
    spec: BuildSpec, sandbox: Sandbox, layout: ChrootLayout, facts: LogFacts, ctx: RunContext
) -> None:
    """Write the entries the build looked up or made to cache-to's directory, owned by the
    workspace's owner."""
    local = spec.local_cache
    if local is None or local.dest is None:
        return
    parts = tuple(str(layout.layer_cache_dir).lstrip("/").split("/"))
    try:
        fd = walk_beneath(sandbox.root, parts)
        try:
            copied = collect_layer_cache(
                fd, local.dest, owner_of(spec.paths.workspace), facts.cache_keys, merge=local.merge
            )
        finally:
            os.close(fd)
    except OSError as e:
        ctx.workflow.warning(
            f"input 'cache-to': the layer cache could not be written to {local.dest} "
            f"({e.strerror or e}); the image is not affected"
        )
        return
    ctx.workflow.echo(f"Layer cache: {len(copied.keys)} entries written to {local.dest}")
    warning = copied.describe(f"the build's layer cache (for {local.dest})")
    if warning:
        ctx.workflow.warning(warning)


def gha_cache_key(spec: BuildSpec, restored: str, echo: Callable[[str], None]) -> str | None:
    """The key the action's next step saves a gha `cache-to` directory under (spec/gha.py),
    or None when there is nothing to save: no such cache, nothing written, or the very
    entries that were restored (under `restored`)."""
    local = spec.local_cache
    if local is None or local.gha is None or local.dest is None:
        return None
    try:
        names = [name for name in os.listdir(local.dest) if ENTRY.match(name)]
    except OSError:
        return None
    if not names:
        return None
    key = local.gha.key(names)
    if key == restored:
        echo(f"Layer cache: the same {len(names)} entries as restored; not saved again")
        return None
    return key
