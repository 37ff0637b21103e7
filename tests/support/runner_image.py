"""Stand-ins for the runner image's two base images, and running a built image's filesystem.

The repository's Dockerfile builds FROM the official runner image and copies /kaniko from the
kaniko executor image. Neither is reachable here, so the test pushes look-alikes to its own
registry:

- ``runner_layers``: a Debian root filesystem from debootstrap with python3 and sudo (the
  official image has both: python3 comes with software-properties-common), plus a layer with
  the `runner` account (uid 1001, groups sudo and docker), /home/runner and exactly the
  official /etc/sudoers; the image config runs as `runner` in /home/runner.
- ``kaniko_layer``: /kaniko laid out like the executor image's (world-writable directory,
  executor, credential helpers, ssl/certs/ca-certificates.crt, .docker/) from a test
  executor directory, with the executor image's environment.

``unpack`` pulls a built image with skopeo into an OCI layout and unpacks it with umoci, as
root, so owners, modes and setuid bits are the image's. ``RootfsRunner.run`` starts a command
inside the unpacked filesystem, as a user of that filesystem, in a private mount namespace that
has /proc and /dev mounted into it (nothing on the host is mounted or changed).
"""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .images import FIXED_MTIME, PYTHON_PACKAGES, debian_rootfs_tar
from .proc import run_text
from .registry import Registry
from .runner_user import OFFICIAL_SUDOERS, RUNNER_UID, accounts

RUNNER_PACKAGES = PYTHON_PACKAGES
RUNNER_ENV = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "DEBIAN_FRONTEND=noninteractive",
]
KANIKO_ENV = [
    "PATH=/usr/local/bin:/kaniko",
    "HOME=/root",
    "USER=root",
    "SSL_CERT_DIR=/kaniko/ssl/certs",
    "DOCKER_CONFIG=/kaniko/.docker/",
]
SHADOW_GID = 42
TIMEOUT = 600


def _entry(name: str, kind: bytes, mode: int, uid: int = 0, gid: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.mtime = FIXED_MTIME
    return info


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int, gid: int = 0) -> None:
    info = _entry(name, tarfile.REGTYPE, mode, gid=gid)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _read_member(archive: Path, name: str) -> str:
    with tarfile.open(archive) as tar:
        member = tar.extractfile(name)
        assert member is not None, name
        return member.read().decode()


def runner_rootfs_tar() -> Path:
    """The cached debootstrap root filesystem with python3 and sudo."""
    return debian_rootfs_tar(include=RUNNER_PACKAGES)


def runner_account_layer(base: Path) -> bytes:
    """What the official image's `adduser`/`usermod`/`echo > /etc/sudoers` lines leave."""
    names = ("passwd", "group", "shadow", "gshadow")
    texts = accounts(*(_read_member(base, f"etc/{n}") for n in names), guest=False)
    modes = {"passwd": (0o644, 0), "group": (0o644, 0), "shadow": (0o640, SHADOW_GID),
             "gshadow": (0o640, SHADOW_GID)}  # fmt: skip
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_entry("etc/", tarfile.DIRTYPE, 0o755))
        for name, text in zip(names, texts):
            mode, gid = modes[name]
            _add_file(tar, f"etc/{name}", text.encode(), mode, gid)
        _add_file(tar, "etc/sudoers", OFFICIAL_SUDOERS.encode(), 0o440)
        tar.addfile(_entry("home/", tarfile.DIRTYPE, 0o755))
        tar.addfile(_entry("home/runner/", tarfile.DIRTYPE, 0o755, RUNNER_UID, RUNNER_UID))
    return buf.getvalue()


def kaniko_layer(executor_dir: Path) -> bytes:
    """/kaniko as the executor image lays it out, from a test executor directory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        # The executor image makes /kaniko world-writable, for kaniko run as non-root.
        tar.addfile(_entry("kaniko/", tarfile.DIRTYPE, 0o777))
        for entry in sorted(os.scandir(executor_dir), key=lambda e: e.name):
            if entry.is_file() and os.access(entry.path, os.X_OK):
                _add_file(tar, f"kaniko/{entry.name}", Path(entry.path).read_bytes(), 0o755)
        for directory in ("kaniko/.docker/", "kaniko/ssl/", "kaniko/ssl/certs/"):
            tar.addfile(_entry(directory, tarfile.DIRTYPE, 0o755))
        bundle = executor_dir / "ssl" / "certs" / "ca-certificates.crt"
        _add_file(tar, "kaniko/ssl/certs/ca-certificates.crt", bundle.read_bytes(), 0o644)
        tar.addfile(_entry("etc/", tarfile.DIRTYPE, 0o755))
        _add_file(tar, "etc/nsswitch.conf", b"hosts: files dns\n", 0o644)
    return buf.getvalue()


def push_standins(registry: Registry, executor_dir: Path) -> tuple[str, str]:
    """Push the runner and kaniko stand-ins; returns their references."""
    client = registry.client()
    base = runner_rootfs_tar()
    client.push_image(
        "standin/actions-runner",
        "test",
        [base.read_bytes(), runner_account_layer(base)],
        {"Env": RUNNER_ENV, "User": "runner", "WorkingDir": "/home/runner"},
        compresslevel=1,
    )
    client.push_image(
        "standin/kaniko",
        "test",
        [kaniko_layer(executor_dir)],
        {"Env": KANIKO_ENV, "Entrypoint": ["/kaniko/executor"], "WorkingDir": "/workspace"},
        compresslevel=1,
    )
    return registry.ref("standin/actions-runner", "test"), registry.ref("standin/kaniko", "test")


def _check(argv: list[str]) -> None:
    done = subprocess.run(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, f"{shlex.join(argv)}:\n{done.stdout}"


def unpack(registry: Registry, repo: str, tag: str, work: Path) -> Path:
    """Unpack an image of the (plain HTTP) registry under `work`; returns its rootfs."""
    layout = work / "oci"
    bundle = work / "bundle"
    work.mkdir(parents=True, exist_ok=True)
    _check([
        "skopeo", "copy", "--insecure-policy", "--src-tls-verify=false", "--quiet",
        f"docker://{registry.host}/{repo}:{tag}", f"oci:{layout}:{tag}",
    ])  # fmt: skip
    _check(["umoci", "unpack", "--image", f"{layout}:{tag}", str(bundle)])
    return bundle / "rootfs"


@dataclass
class RootfsRunner:
    """Runs commands inside an unpacked image filesystem, as one of its users."""

    rootfs: Path

    def script(self, uid: int) -> str:
        root = shlex.quote(str(self.rootfs))
        return "\n".join(
            [
                "set -eu",
                f"mount -t proc proc {root}/proc",
                f"mount --bind /dev {root}/dev",
                'cwd="$1"; shift',
                # setpriv and the account database of the image itself.
                f"exec chroot {root} setpriv --reuid={uid} --regid={uid} --init-groups "
                '-- env -C "$cwd" -- "$@"',
            ]
        )

    def run(
        self, argv: list[str], *, uid: int, env: dict[str, str], cwd: str, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        wrapper = [
            "unshare", "--mount", "--propagation", "private", "--",
            "bash", "-c", self.script(uid), "rootfs", cwd, *argv,
        ]  # fmt: skip
        return run_text(wrapper, env, timeout)
