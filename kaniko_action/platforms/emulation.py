"""Whether the runner can run another architecture's binaries (qemu through binfmt_misc).

With `/proc/sys/fs/binfmt_misc` mounted, its handlers are read. In a container it usually is
not, while the node's handlers still apply: then a header-only executable of the platform is
started once; "exec format error" means no handler would run the build's RUN steps.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

from ..cancellation import CancelState
from ..oci.platform import Platform
from ..sandbox.scratch import scratch_dir
from .binfmt import elf_header, handlers_for, parse_handler

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
PROBE_TIMEOUT_SECONDS = 10.0


def _from_handlers(platform: Platform, directory: Path) -> str | None:
    try:
        status = (directory / "status").read_text(encoding="utf-8").strip()
    except OSError:
        status = ""
    if status != "enabled":
        return "binfmt_misc is disabled on the runner"
    handlers = []
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if entry.name in ("status", "register"):
            continue
        try:
            text = Path(entry.path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        handler = parse_handler(entry.name, text)
        if handler is not None:
            handlers.append(handler)
    matching = handlers_for(platform, handlers)
    if not matching:
        return f"the runner has no binfmt_misc handler for {platform.arch} binaries"
    if not any(h.fixed for h in matching):
        names = ", ".join(f"{h.name} ({h.interpreter})" for h in matching)
        return (
            f"the binfmt_misc handler for {platform.arch} ({names}) is registered without the "
            "F flag, so its interpreter is looked up inside the chroot, where it does not exist"
        )
    return None


def _probe(platform: Platform, work_base: Path, cancel: CancelState | None) -> str | None:
    header = elf_header(platform)
    if header is None:
        return None
    with scratch_dir(work_base, cancel) as directory:
        probe = directory / "probe"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o700)
        with os.fdopen(fd, "wb") as f:
            f.write(header)
        try:
            subprocess.run(
                [str(probe)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=PROBE_TIMEOUT_SECONDS,
                check=False,
            )
        except OSError as e:
            if e.errno == errno.ENOEXEC:
                return (
                    f"the runner cannot start {platform.arch} binaries (exec format error: no "
                    "binfmt_misc handler)"
                )
        except subprocess.TimeoutExpired:
            pass
    return None


def emulation_problem(
    platform: Platform,
    work_base: Path,
    binfmt_dir: Path = BINFMT_DIR,
    cancel: CancelState | None = None,
) -> str | None:
    """Why RUN steps for `platform` cannot run in the chroot, or None when they can (or when
    it cannot be told)."""
    if (binfmt_dir / "status").exists():
        return _from_handlers(platform, binfmt_dir)
    return _probe(platform, work_base, cancel)
