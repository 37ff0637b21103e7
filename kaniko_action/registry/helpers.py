"""Registry credentials for the action's own registry requests, exactly as the executor gets
them: from the docker config written into the chroot, asking kaniko's bundled credential
helpers (`docker-credential-ecr-login`, ...) inside the chroot with the executor's environment.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from ..executor.argv import Invocation
from ..executor.process import spawn_in_chroot
from ..sandbox.kaniko_files import helper_program
from ..sandbox.layout import host_path
from ..sandbox.processes import terminate
from .auth import ANONYMOUS, ConfigCredential, config_credential, helper_answer

HELPER_TIMEOUT_SECONDS = 60.0
_HELPER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def run_helper(
    root: Path,
    kaniko_dir: PurePosixPath,
    helper: str,
    server: str,
    env: Mapping[str, str],
    timeout: float = HELPER_TIMEOUT_SECONDS,
) -> ConfigCredential:
    """`docker-credential-HELPER get` run chrooted into `root`, asked about `server`.

    A helper that is missing, fails, or knows nothing gives no credential (anonymous access),
    as with the executor. Whatever the helper started is stopped before this returns.
    """
    if not _HELPER_NAME.match(helper):
        return ANONYMOUS
    program = kaniko_dir / helper_program(helper)
    if not os.path.isfile(host_path(str(root), program)):
        return ANONYMOUS
    proc = spawn_in_chroot(
        root,
        Invocation((str(program), "get"), dict(env)),
        stdin=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        output, _ = proc.communicate(server.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        output = b""
    finally:
        terminate(proc.pid, root)
        proc.wait()
    if proc.returncode != 0:
        return ANONYMOUS
    return helper_answer(output.decode("utf-8", errors="replace"))


class ChrootCredentials:
    """`registry -> credential` for RegistryClient.

    `root` is the chroot of the build in progress; helpers can only be asked while there is
    one (the client remembers each registry's answer for the rest of the run).
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        env: Mapping[str, str],
        kaniko_dir: PurePosixPath,
        mask: Callable[[str], None],
    ) -> None:
        self.config = config
        self.env = env
        self.kaniko_dir = kaniko_dir
        self.mask = mask
        self.root: Path | None = None

    def __call__(self, registry: str) -> ConfigCredential:
        credential = config_credential(self.config, registry)
        if credential.kind == "helper":
            if self.root is None:
                return ANONYMOUS
            credential = run_helper(
                self.root, self.kaniko_dir, credential.helper, credential.server, self.env
            )
            if credential.secret:
                self.mask(credential.secret)
        return credential
