"""kaniko's own files on the runner, laid out like the executor image's `/kaniko`: the
executor, the bundled credential helpers (`docker-credential-<name>`) and kaniko's CA bundle;
checking them, and copying them into a chroot."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from ..errors import RunnerLacks, SandboxError
from ..utils.filecopy import Copier
from ..utils.pem import merge_bundles, runner_bundle

HELPER_PREFIX = "docker-credential-"


def executor_path(executor_dir: Path) -> Path:
    """The executor binary in a kaniko directory."""
    return executor_dir / "executor"


def elf_interpreter(path: Path) -> str | None:
    """The program interpreter (dynamic loader) a 64-bit little-endian ELF file asks for."""
    try:
        with open(path, "rb") as f:
            header = f.read(64)
            if len(header) < 64 or header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
                return None
            phoff, phentsize, phnum = (
                int.from_bytes(header[32:40], "little"),
                int.from_bytes(header[54:56], "little"),
                int.from_bytes(header[56:58], "little"),
            )
            for index in range(phnum):
                f.seek(phoff + index * phentsize)
                entry = f.read(phentsize)
                if int.from_bytes(entry[0:4], "little") == 3:  # PT_INTERP
                    offset = int.from_bytes(entry[8:16], "little")
                    size = int.from_bytes(entry[32:40], "little")
                    f.seek(offset)
                    return f.read(size).rstrip(b"\0").decode(errors="replace")
    except OSError:
        return None
    return None


def check_executor_dir(executor_dir: Path) -> None:
    exe = executor_path(executor_dir)
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise RunnerLacks(
            f"no kaniko executor at {exe} (input 'executor-dir'); the runner image needs "
            "`COPY --from=<kaniko executor image> /kaniko /kaniko`"
        )
    interpreter = elf_interpreter(exe)
    if interpreter is not None:
        raise SandboxError(
            f"the kaniko executor at {exe} (input 'executor-dir') is dynamically linked "
            f"(needs {interpreter}), so it cannot start inside the chroot: use the executor "
            "from a kaniko image, or build it with CGO_ENABLED=0"
        )


def helper_program(helper: str) -> str:
    """The file name of a credential helper (`ecr-login` -> `docker-credential-ecr-login`)."""
    return HELPER_PREFIX + helper


def available_helpers(executor_dir: Path) -> list[str]:
    """The credential helpers a kaniko directory holds, by name (`ecr-login`, ...)."""
    try:
        names = os.listdir(executor_dir)
    except OSError:
        return []
    return sorted(n[len(HELPER_PREFIX) :] for n in names if n.startswith(HELPER_PREFIX))


def trust_bundle(executor_dir: Path) -> bytes:
    """The CA bundle builds trust: the runner's system bundle plus kaniko's own, each
    certificate once. The chroot gets it, and the action's own registry requests use it."""
    own = executor_dir / "ssl" / "certs" / "ca-certificates.crt"
    return merge_bundles([*runner_bundle(), own])


def install(
    dest: Path, ca_bundle: Path, executor_dir: Path, helpers: Collection[str] | None
) -> None:
    """Copy the executor and the credential helpers named in `helpers` (all when None) to
    `dest`, and write the trust bundle at `ca_bundle`.

    Copies (reflinks where the filesystem has them), never links: a RUN step can write
    anywhere in the chroot, and must not be able to change the runner's executor.
    """
    dest.mkdir(mode=0o755, exist_ok=True)  # the context may be staged in it already
    dest.chmod(0o755)
    copier = Copier()
    for entry in os.scandir(executor_dir):
        helper = entry.name[len(HELPER_PREFIX) :]
        if entry.name.startswith(HELPER_PREFIX) and helpers is not None and helper not in helpers:
            continue  # no registry of this build uses it: 8 MiB less to copy
        if entry.is_file(follow_symlinks=True) and os.access(entry.path, os.X_OK):
            copier.copy_file(entry.path, dest / entry.name, follow_symlinks=True)
    ca_bundle.parent.mkdir(parents=True)
    ca_bundle.write_bytes(trust_bundle(executor_dir))
