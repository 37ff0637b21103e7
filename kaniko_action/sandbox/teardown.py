"""Taking a work directory down: stop what runs in its chroot, detach what is mounted in it,
delete its files. Used by the build itself, by its guardian when the build was killed, and by a
later run for work directories whose build is gone.

The build's secrets and credentials go first, so that whatever else might fail to be deleted,
they are not what stays behind; the lock file goes last, so that a work directory without one
is always one whose removal was over (workdirs.py reaps those)."""

from __future__ import annotations

from pathlib import Path

from ..errors import SandboxError
from ..spec.paths import WORKDIR_LOCK
from ..utils.fs import CrossesMount, RemovalIncomplete, remove_beneath, remove_tree, unmount_under
from .layout import KANIKO_DIR
from .processes import terminate

CHROOT_NAME = "root"
# Inside the chroot's kaniko directory: build secrets, the docker config, registry
# certificates and keys (see layout.py).
SECRET_PLACES = ("secret-src", ".docker", "certs")


def teardown(workdir: Path, session: int | None = None) -> None:
    """Remove `workdir` (a real path) and everything of the build it held.

    Every process whose root is inside its chroot (or in `session`) is stopped first, then
    mounts a RUN step made there are detached, then the secrets and the tree are deleted
    without following a link or crossing a mount. Raises SandboxError, after removing all it
    can, when something could not be removed.
    """
    terminate(session, workdir / CHROOT_NAME)
    still_mounted = unmount_under(workdir)
    problems: list[str] = []
    kaniko = (CHROOT_NAME, *KANIKO_DIR.parts[1:])
    for place in SECRET_PLACES:
        try:
            remove_beneath(workdir, (*kaniko, place))
        except OSError as e:
            problems.append(str(e))
    if still_mounted:
        raise SandboxError(
            f"cannot remove {workdir}: these mounts made by the build could not be detached: "
            f"{', '.join(still_mounted)}"
        )
    try:
        remove_tree(workdir, last=WORKDIR_LOCK)
    except (CrossesMount, RemovalIncomplete) as e:
        raise SandboxError(str(e)) from e
    except OSError as e:
        problems.append(f"{e.strerror or e}: {e.filename}" if e.filename else str(e))
    if problems:
        raise SandboxError(f"cannot remove all of {workdir}: {'; '.join(problems[:3])}")
