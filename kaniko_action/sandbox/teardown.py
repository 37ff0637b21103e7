"""Taking a work directory down: stop what runs in its chroot, detach what is mounted in it,
delete its files. Used by the build itself, by its guardian when the build was killed, and by a
later run for work directories whose build is gone."""

from __future__ import annotations

from pathlib import Path

from ..errors import SandboxError
from ..utils.fs import CrossesMount, remove_tree, unmount_under
from .processes import terminate

CHROOT_NAME = "root"


def teardown(workdir: Path, session: int | None = None) -> None:
    """Remove `workdir` (a real path) and everything of the build it held.

    Every process whose root is inside its chroot (or in `session`) is stopped first, then
    mounts a RUN step made there are detached, then the tree is deleted without following a
    link or crossing a mount. Raises SandboxError when something could not be removed.
    """
    terminate(session, workdir / CHROOT_NAME)
    still_mounted = unmount_under(workdir)
    if still_mounted:
        raise SandboxError(
            f"cannot remove {workdir}: these mounts made by the build could not be detached: "
            f"{', '.join(still_mounted)}"
        )
    try:
        remove_tree(workdir)
    except CrossesMount as e:
        raise SandboxError(str(e)) from e
