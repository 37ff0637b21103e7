"""One build through the product's sandbox with a chosen way of staging the context.

The differential test builds the same context twice: staged whole, as the action did before it
learnt to read .dockerignore (`stage_whole`), and staged by the action (`stage_context`). The
chroot, the executor's command line and the process handling are the product's own.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kaniko_action.cancellation import CancelState
from kaniko_action.executor.argv import executor_invocation
from kaniko_action.executor.process import run_in_chroot
from kaniko_action.sandbox.chroot import Sandbox
from kaniko_action.sandbox.layout import ChrootLayout, chroot_layout, host_path
from kaniko_action.spec.build_spec import build_spec
from kaniko_action.spec.inputs import DEFAULTS
from kaniko_action.spec.paths import BuildPaths

Stage = Callable[[str, BuildPaths, ChrootLayout], object]


def _copy_regular(src: str, dst: str) -> str:
    if stat.S_ISREG(os.lstat(src).st_mode):
        shutil.copy2(src, dst)
    return dst


def stage_whole(root: str, paths: BuildPaths, layout: ChrootLayout) -> None:
    """The whole context, ignored files included, links as links, special files left out;
    an outside Dockerfile beside it with its <Dockerfile>.dockerignore."""
    Path(host_path(root, layout.kaniko_dir)).mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        paths.context,
        host_path(root, layout.context_dir),
        symlinks=True,
        copy_function=_copy_regular,
    )
    if not paths.dockerfile_in_context:
        dest = Path(host_path(root, layout.dockerfile))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(paths.dockerfile, dest)
        ignore = paths.dockerfile.with_name(paths.dockerfile.name + ".dockerignore")
        if ignore.is_file():
            shutil.copy2(ignore, dest.with_name(ignore.name))


@dataclass
class Built:
    status: int
    log: str
    staged: object  # what the staging function returned


def build(
    *,
    workspace: Path,
    work_base: Path,
    executor_dir: Path,
    stage: Stage,
    destination: str,
    insecure_registry: str,
    context: str = "",
    file: str = "",
) -> Built:
    raw = dict(DEFAULTS)
    raw.update(
        {
            "context": context,
            "file": file,
            "tags": destination,
            "push": "true",
            "insecure-registries": insecure_registry,
            "executor-dir": str(executor_dir),
        }
    )
    spec = build_spec(raw, str(workspace))
    layout = chroot_layout(spec.paths)
    invocation = executor_invocation(spec, layout)
    lines: list[str] = []
    cancel = CancelState()
    with Sandbox(work_base, cancel) as sandbox:
        staged = stage(str(sandbox.root), spec.paths, layout)  # first, as the action does
        sandbox.populate(layout, spec.executor_dir)
        status = run_in_chroot(
            sandbox.root, invocation, lines.extend, cancel, sandbox.drop_exe_link
        )
    return Built(status, "\n".join(lines), staged)
