"""A local layer cache around one build: its entries, cache mounts and base images into the
chroot before kaniko starts, and the ones the build used or made out to `cache-to`'s
directory after it succeeded (staging/layer_cache.py, cache_mounts.py and base_images.py do
the copying and checking). A cache never fails a build: what cannot be read or written is a
warning, and the build goes on (or ends) as without it."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from ..executor.log import LogFacts
from ..oci.platform import Platform
from ..oci.tarball import Uncacheable
from ..sandbox.chroot import Sandbox
from ..sandbox.layout import ChrootLayout, host_path
from ..spec.build_spec import BuildSpec
from ..staging.collect import owner_of
from ..staging.base_images import (
    MAX_BASE_BYTES,
    BasesPacker,
    StagedBase,
    cached_digests,
    stage_base,
)
from ..staging.cache_mounts import MOUNTS_FILE, MountsPacker, restore_mounts
from ..staging.layer_cache import ENTRY, collect_layer_cache, stage_layer_cache
from ..utils.filecopy import Copier
from ..utils.fs import DIR_FLAGS, remove_tree, walk_beneath
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
    caches = Path(host_path(str(sandbox.root), layout.cache_mounts_dir))
    try:
        left_out = restore_mounts(local.src, caches)
    except OSError as e:
        remove_tree(caches)
        ctx.workflow.warning(
            f"input 'cache-from': the cache mounts in {local.src} cannot be read "
            f"({e.strerror or e}): RUN steps start with empty cache mounts"
        )
        return
    if left_out is not None:
        ctx.workflow.echo(f"Layer cache: cache mounts from {local.src}")
    if left_out:
        ctx.workflow.warning(
            f"input 'cache-from': {left_out} entries of the cache mounts in {local.src} were "
            "left out (links leading out, devices or fifos)"
        )


def stage_base_images(
    spec: BuildSpec,
    sandbox: Sandbox,
    layout: ChrootLayout,
    ctx: RunContext,
    bases: Sequence[tuple[str, Platform]],
) -> tuple[StagedBase, ...]:
    """Put the base images kaniko will pull (`bases`: image and platform) in the chroot's
    base-image cache, from cache-from or pulled once; each that cannot be is left to kaniko."""
    local = spec.local_cache
    if local is None or not bases:
        return ()
    from ..registry.client import RegistryRequestError

    directory = sandbox.path(layout.cache_dir)
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    fd = os.open(directory, DIR_FLAGS)
    staged: list[StagedBase] = []
    left = MAX_BASE_BYTES
    copier = Copier()
    try:
        for image, platform in bases:
            started = time.monotonic()
            try:
                one = stage_base(ctx.access.client, image, platform, fd, local.src, left, copier)
            except Uncacheable as e:
                ctx.workflow.echo(f"Base image cache: {image} is left to kaniko: {e}")
                continue
            except (RegistryRequestError, OSError) as e:
                ctx.workflow.warning(
                    f"base image {image} could not be placed in kaniko's base-image cache "
                    f"({e.strerror if isinstance(e, OSError) and e.strerror else e}); "
                    "kaniko pulls it"
                )
                continue
            if one.unusable is not None:
                ctx.workflow.warning(
                    f"input 'cache-from': the base image {image} kept in {local.src} is "
                    f"unusable ({one.unusable}): pulled again"
                )
            staged.append(one)
            left -= one.size
            where = {"cache-from": f"from {local.src}", "pulled": "pulled"}.get(
                one.source, "in the cache-dir input"
            )
            ctx.workflow.echo(
                f"Base image cache: {image} ({one.digest[:19]}, {one.size / 2**20:.1f} MiB) "
                f"{where} in {time.monotonic() - started:.2f} s"
            )
    finally:
        os.close(fd)
    return tuple(staged)


def save_cache(
    spec: BuildSpec, sandbox: Sandbox, layout: ChrootLayout, facts: LogFacts, ctx: RunContext
) -> None:
    """Write the entries the build looked up or made to cache-to's directory, owned by the
    workspace's owner."""
    local = spec.local_cache
    if local is None or local.dest is None:
        return
    parts = tuple(str(layout.layer_cache_dir).lstrip("/").split("/"))
    owner = owner_of(spec.paths.workspace)
    mounts = MountsPacker(sandbox.root, layout.cache_mounts_dir, owner)
    bases_fd = _chroot_dir(sandbox, layout.cache_dir) if facts.cached_bases else None
    bases = BasesPacker(bases_fd, facts.cached_bases, owner) if bases_fd is not None else None

    def extra(target: int) -> None:
        mounts(target)
        if bases is not None:
            bases(target)

    try:
        fd = walk_beneath(sandbox.root, parts)
        try:
            copied = collect_layer_cache(
                fd, local.dest, owner, facts.cache_keys, merge=local.merge, extra=extra
            )
        finally:
            os.close(fd)
    except OSError as e:
        ctx.workflow.warning(
            f"input 'cache-to': the layer cache could not be written to {local.dest} "
            f"({e.strerror or e}); the image is not affected"
        )
        return
    finally:
        if bases_fd is not None:
            os.close(bases_fd)
    ctx.workflow.echo(f"Layer cache: {len(copied.keys)} entries written to {local.dest}")
    if bases is not None and bases.kept:
        ctx.workflow.echo(
            f"Layer cache: {bases.kept} base image{'s' if bases.kept > 1 else ''} "
            f"({bases.size / 2**20:.1f} MiB) kept"
        )
    if bases is not None and bases.left_out:
        digest, why = bases.left_out[0]
        ctx.workflow.warning(
            f"input 'cache-to': {len(bases.left_out)} base image(s) were not kept in "
            f"{local.dest} ({digest}: {why}); the next build pulls them"
        )
    if mounts.packed is not None:
        ctx.workflow.echo(f"Layer cache: cache mounts ({mounts.packed / 2**20:.1f} MiB) kept")
    if mounts.problem is not None:
        ctx.workflow.warning(
            f"input 'cache-to': the cache mounts were not kept in {local.dest} "
            f"({mounts.problem}); the image and the layer cache are not affected"
        )
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
        names += [f"base:{digest}" for digest in cached_digests(local.dest)]
        mounts = _digest(local.dest / MOUNTS_FILE)
    except OSError:
        return None
    if not names and mounts is None:
        return None
    key = local.gha.key([*names, *([f"{MOUNTS_FILE}:{mounts}"] if mounts else [])])
    if key == restored:
        echo(f"Layer cache: the same {len(names)} entries as restored; not saved again")
        return None
    return key


def _chroot_dir(sandbox: Sandbox, inside: PurePosixPath) -> int | None:
    """A descriptor of a directory of the chroot reached without following a link, or None
    when there is none."""
    try:
        return walk_beneath(sandbox.root, str(inside).lstrip("/").split("/"))
    except OSError:
        return None


def _digest(path: Path) -> str | None:
    """The sha256 of a file the action wrote, or None when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
