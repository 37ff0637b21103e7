"""Base images for tests: a tiny busybox image and a debootstrapped Debian.

Layers are plain (uncompressed) tar archives; push them with
``RegistryClient.push_image`` or the ``push_*`` helpers below.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import stat
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

from .registry import Registry, RegistryClient

HOST_BUSYBOX = Path("/bin/busybox")
DEBIAN_MIRROR = "http://deb.debian.org/debian"
CACHE_ENV = "KANIKO_BUILD_TEST_CACHE"
#: mtime of every entry of generated layers.
FIXED_MTIME = 946684800  # 2000-01-01T00:00:00Z

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"


# ---------------------------------------------------------------------- busybox


def _tarinfo(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def busybox_applets(busybox: Path = HOST_BUSYBOX) -> list[str]:
    """Applet names reported by ``busybox --list`` (without ``busybox``)."""
    out = subprocess.run(
        [str(busybox), "--list"], check=True, stdout=subprocess.PIPE
    ).stdout.decode()
    names = {line.strip() for line in out.splitlines()}
    return sorted(n for n in names if n and "/" not in n and n != "busybox")


def busybox_layer(busybox: Path = HOST_BUSYBOX) -> bytes:
    """A deterministic layer tar: ``bin/busybox`` (the host's static busybox),
    ``bin/<applet> -> busybox`` symlinks (``sh`` included), ``etc/passwd`` and
    ``etc/group`` (root, nobody), ``root`` (0700) and ``tmp`` (1777)."""
    data = busybox.read_bytes()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, mode in (
            ("bin", 0o755),
            ("etc", 0o755),
            ("root", 0o700),
            ("tmp", 0o1777),
        ):
            tar.addfile(_tarinfo(name + "/", tarfile.DIRTYPE, mode))
        info = _tarinfo("bin/busybox", tarfile.REGTYPE, 0o755)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for applet in busybox_applets(busybox):
            link = _tarinfo(f"bin/{applet}", tarfile.SYMTYPE, 0o777)
            link.linkname = "busybox"
            tar.addfile(link)
        for name, text in (("etc/group", GROUP), ("etc/passwd", PASSWD)):
            raw = text.encode()
            info = _tarinfo(name, tarfile.REGTYPE, 0o644)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


# ----------------------------------------------------------------------- debian


def default_cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "kaniko-build-test"


def _unescape_mountinfo(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts_under(root: Path) -> list[str]:
    """Mount points at or below ``root`` (from /proc/self/mountinfo)."""
    base = os.path.realpath(root)
    result = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            mount_point = _unescape_mountinfo(line.split()[4])
            if mount_point == base or mount_point.startswith(base + "/"):
                result.append(mount_point)
    return result


def unmount_all_under(root: Path) -> None:
    """Unmount everything mounted at or below ``root``, deepest first."""
    for _ in range(20):
        mounts = mounts_under(root)
        if not mounts:
            return
        for mount_point in sorted(set(mounts), key=lambda p: p.count("/"), reverse=True):
            done = subprocess.run(["umount", mount_point], capture_output=True, check=False)
            if done.returncode != 0:
                subprocess.run(["umount", "-l", mount_point], capture_output=True, check=False)
    raise RuntimeError(f"could not unmount everything below {root}: {mounts_under(root)}")


def safe_rmtree(root: Path) -> None:
    """Delete ``root`` recursively after unmounting anything below it.

    Refuses to descend into a directory on another device, so a mount that
    survived (or appeared) can never be emptied.
    """
    if not os.path.lexists(root):
        return
    unmount_all_under(root)
    root_dev = os.lstat(root).st_dev

    def remove(path: str) -> None:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(path)
            return
        if st.st_dev != root_dev:
            raise RuntimeError(f"refusing to delete across a mount point: {path}")
        with os.scandir(path) as entries:
            children = [entry.path for entry in entries]
        for child in children:
            remove(child)
        os.rmdir(path)

    remove(os.fspath(root))


def _walk_sorted(root: str, prune: tuple[str, ...], rel: str = "") -> Iterator[tuple[str, str]]:
    """(path, archive name) pairs below ``root``, sorted, not following
    symlinks and not descending into the directories named in ``prune``."""
    directory = os.path.join(root, rel) if rel else root
    for name in sorted(os.listdir(directory)):
        arcname = f"{rel}/{name}" if rel else name
        path = os.path.join(root, arcname)
        yield path, arcname
        if arcname not in prune and stat.S_ISDIR(os.lstat(path).st_mode):
            yield from _walk_sorted(root, prune, arcname)


#: Directories archived without their contents: pseudo filesystems, and the
#: downloaded packages and package lists (as in Docker's official images).
EMPTY_DIRS = ("dev", "proc", "sys", "var/cache/apt/archives", "var/lib/apt/lists")


def rootfs_to_tar(root: Path, out: Path) -> None:
    """Archive ``root`` with numeric owners and preserved modes, symlinks and
    hardlinks; device nodes, fifos and sockets are dropped, and the
    directories in ``EMPTY_DIRS`` are archived empty."""
    root_s = os.fspath(root)
    with tarfile.open(out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, arcname in _walk_sorted(root_s, EMPTY_DIRS):
            st = os.lstat(path)
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)
                    or stat.S_ISLNK(st.st_mode)):  # fmt: skip
                continue
            info = tar.gettarinfo(path, arcname)
            info.uname = info.gname = ""
            info.mtime = int(st.st_mtime)
            if info.isreg():
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)


def _host_arch() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], check=True, stdout=subprocess.PIPE, text=True
    ).stdout.strip()


def debian_rootfs_tar(
    cache_dir: Path | None = None,
    *,
    suite: str = "bookworm",
    variant: str = "minbase",
    mirror: str = DEBIAN_MIRROR,
    include: tuple[str, ...] = (),
) -> Path:
    """Path of a cached rootfs tar made by ``debootstrap --variant=VARIANT SUITE``
    (with ``--include=`` the packages in ``include``).

    Built once (needs root and network access to the mirror) and reused
    afterwards; concurrent callers wait on a lock file.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    name = f"debian-{suite}-{variant}-{_host_arch()}" + "".join(f"+{p}" for p in include)
    target = cache / f"{name}.tar"
    if target.exists():
        return target
    with open(cache / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        build_dir = cache / f"{name}.build-{os.getpid()}"
        partial = cache / f"{name}.tar.partial-{os.getpid()}"
        log_path = cache / f"{name}.debootstrap.log"
        safe_rmtree(build_dir)
        try:
            started = time.monotonic()
            with open(log_path, "wb") as log:
                done = subprocess.run(
                    [
                        "debootstrap",
                        f"--variant={variant}",
                        *([f"--include={','.join(include)}"] if include else []),
                        suite,
                        str(build_dir),
                        mirror,
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
            unmount_all_under(build_dir)
            if done.returncode != 0:
                tail = log_path.read_text(errors="replace")[-4000:]
                raise RuntimeError(f"debootstrap failed ({done.returncode}):\n{tail}")
            with open(log_path, "a") as log_text:
                log_text.write(f"debootstrap took {time.monotonic() - started:.1f}s\n")
            rootfs_to_tar(build_dir, partial)
            os.replace(partial, target)
        finally:
            safe_rmtree(build_dir)
            partial.unlink(missing_ok=True)
    return target


# ------------------------------------------------------------------------ push


def _client(registry: Registry | RegistryClient) -> RegistryClient:
    return registry.client() if isinstance(registry, Registry) else registry


def push_busybox(
    registry: Registry | RegistryClient, repo: str = "base/busybox", tag: str = "latest"
) -> str:
    """Push the busybox image (one layer, ``Cmd ["sh"]``); returns its digest."""
    return _client(registry).push_image(repo, tag, [busybox_layer()], {"Cmd": ["sh"]})


def push_busybox_index(
    registry: Registry | RegistryClient,
    repo: str = "base/multi",
    tag: str = "latest",
    platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64"),
) -> dict[str, str]:
    """Push the busybox image once per platform (the same static busybox bytes: nothing of
    it is run for a foreign platform) and an index over them under ``tag``; returns
    ``{platform: manifest digest, "index": index digest}``."""
    client = _client(registry)
    layer = busybox_layer()
    digests = {
        platform: client.push_image(
            repo,
            f"{tag}-{platform.replace('/', '-')}",
            [layer],
            {"Cmd": ["sh"]},
            platform=platform,
        )
        for platform in platforms
    }
    digests["index"] = client.push_index(repo, tag, [(p, digests[p]) for p in platforms])
    return digests


#: Packages of the Debian with python3: the runner image's stand-in (runner_image.py) needs
#: sudo too, and sharing the package list shares one debootstrap between them.
PYTHON_PACKAGES = ("python3", "sudo")


def push_debian(
    registry: Registry | RegistryClient,
    cache_dir: Path | None = None,
    repo: str = "base/debian",
    tag: str = "bookworm",
    include: tuple[str, ...] = (),
) -> str:
    """Push the debootstrapped Debian image (one layer, ``Cmd ["bash"]``), with the packages
    in ``include`` (PYTHON_PACKAGES for one with python3)."""
    layer = debian_rootfs_tar(cache_dir, include=include).read_bytes()
    return _client(registry).push_image(repo, tag, [layer], {"Cmd": ["bash"]}, compresslevel=1)
