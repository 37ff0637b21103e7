"""Copies for the chroot: reflinks where the filesystem has them, sparse-aware streamed copies
elsewhere, never hard links; flat memory; the cache directory and kaniko's own files."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kaniko_action.cancellation import CancelState
from kaniko_action.registry.credentials import helpers_in_use
from kaniko_action.sandbox.chroot import Sandbox
from kaniko_action.sandbox.layout import ChrootLayout, chroot_layout
from kaniko_action.spec.paths import BuildPaths
from kaniko_action.staging.files import stage_cache_dir
from kaniko_action.utils.filecopy import Copier, copy_tree

ROOT = Path(__file__).resolve().parent.parent


def sparse_file(path: Path, size: int, chunks: dict[int, bytes]) -> None:
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, data in chunks.items():
            f.seek(offset)
            f.write(data)


@pytest.mark.parametrize("kernel_copy", [True, False])
def test_sparse_copy_keeps_data_and_holes(tmp_path: Path, kernel_copy: bool) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    chunks = {0: b"head", 5 << 20: b"x" * 100_000, (16 << 20) - 3: b"end"}
    sparse_file(src, 16 << 20, chunks)
    os.chmod(src, 0o751)
    os.utime(src, ns=(10**18, 10**18 + 5))
    copier = Copier()
    if not kernel_copy:  # as on a filesystem pair without copy_file_range
        copier._no_copy_range.add((src.stat().st_dev, tmp_path.stat().st_dev))
    copier.copy_file(src, dst)
    assert dst.read_bytes() == src.read_bytes()
    st = dst.stat()
    assert st.st_blocks * 512 < 1 << 20
    assert stat.S_IMODE(st.st_mode) == 0o751 and st.st_mtime_ns == 10**18 + 5
    assert st.st_ino != src.stat().st_ino and st.st_nlink == 1


def test_trailing_hole_and_empty_files(tmp_path: Path) -> None:
    sparse_file(tmp_path / "tail", 1 << 20, {0: b"data"})
    (tmp_path / "empty").write_bytes(b"")
    copier = Copier()
    copier.copy_file(tmp_path / "tail", tmp_path / "tail.copy")
    copier.copy_file(tmp_path / "empty", tmp_path / "empty.copy")
    assert (tmp_path / "tail.copy").read_bytes() == (tmp_path / "tail").read_bytes()
    assert (tmp_path / "empty.copy").read_bytes() == b""


def test_refuses_links_and_existing_targets(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("x")
    os.symlink("real", tmp_path / "link")
    (tmp_path / "exists").write_text("keep")
    with pytest.raises(OSError, match="Too many levels of symbolic links") as refused:
        Copier().copy_file(tmp_path / "link", tmp_path / "out")
    assert refused.value.errno == errno.ELOOP
    assert not (tmp_path / "out").exists()
    with pytest.raises(FileExistsError):
        Copier().copy_file(tmp_path / "real", tmp_path / "exists")
    assert (tmp_path / "exists").read_text() == "keep"
    Copier().copy_file(tmp_path / "link", tmp_path / "followed", follow_symlinks=True)
    assert (tmp_path / "followed").read_text() == "x"


def test_copy_tree_keeps_links_modes_times_and_leaves_out_special_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "file").write_text("data")
    os.chmod(src / "sub", 0o700)
    os.symlink("/etc/passwd", src / "abs")
    os.mkfifo(src / "fifo")
    os.utime(src / "sub", ns=(10**18, 10**18))
    copy_tree(src, tmp_path / "dst")
    dst = tmp_path / "dst"
    assert (dst / "sub" / "file").read_text() == "data"
    assert stat.S_IMODE((dst / "sub").stat().st_mode) == 0o700
    assert (dst / "sub").stat().st_mtime_ns == 10**18
    assert os.readlink(dst / "abs") == "/etc/passwd"
    assert not (dst / "fifo").exists()


def test_cache_dir_is_copied_not_linked(tmp_path: Path) -> None:
    """A RUN step appending to or chmod-ing a cached layer in the chroot must not reach the
    runner's cache (it did through the hard links staging used to make)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    layer = cache / "sha256:abc"
    layer.write_bytes(b"layer bytes")
    (cache / "sha256:abc.json").write_text("{}")
    root = tmp_path / "root"
    (root / ".kaniko-build").mkdir(parents=True)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "Dockerfile").write_text("FROM scratch\n")
    layout = chroot_layout(BuildPaths(ws, ws, ws / "Dockerfile"))
    stage_cache_dir(str(root), cache, layout)
    staged = root / ".kaniko-build" / "cache" / "sha256:abc"
    assert staged.stat().st_ino != layer.stat().st_ino
    assert layer.stat().st_nlink == 1
    with open(staged, "ab") as f:
        f.write(b" tampered")
    os.chmod(staged, 0o777)
    assert layer.read_bytes() == b"layer bytes"
    assert stat.S_IMODE(layer.stat().st_mode) == 0o644


def test_kaniko_files_are_copies_and_only_the_helpers_in_use(tmp_path: Path) -> None:
    executor_dir = tmp_path / "kaniko"
    (executor_dir / "ssl" / "certs").mkdir(parents=True)
    (executor_dir / "ssl" / "certs" / "ca-certificates.crt").write_text("")
    for name in ("executor", "docker-credential-gcr", "docker-credential-ecr-login"):
        (executor_dir / name).write_bytes(b"\x7fELF not really " + name.encode())
        (executor_dir / name).chmod(0o755)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "Dockerfile").write_text("FROM scratch\n")
    layout = chroot_layout(BuildPaths(ws, ws, ws / "Dockerfile"))
    helpers = helpers_in_use({"auths": {}, "credHelpers": {"gcr.io": "gcr"}})
    with Sandbox(tmp_path / "work", CancelState()) as sandbox:
        sandbox.populate(layout, executor_dir, helpers=helpers)
        copy = sandbox.path(layout.executor)
        assert copy.read_bytes() == b"\x7fELF not really executor"
        assert copy.stat().st_ino != (executor_dir / "executor").stat().st_ino
        assert (executor_dir / "executor").stat().st_nlink == 1
        assert stat.S_IMODE(copy.stat().st_mode) == 0o755
        kaniko_dir = sandbox.path(layout.kaniko_dir)
        assert (kaniko_dir / "docker-credential-gcr").is_file()
        assert not (kaniko_dir / "docker-credential-ecr-login").exists()
    with Sandbox(tmp_path / "work", CancelState()) as sandbox:
        sandbox.populate(layout, executor_dir)  # helpers not given: all of them
        assert (sandbox.path(layout.kaniko_dir) / "docker-credential-ecr-login").is_file()
    with Sandbox(tmp_path / "work", CancelState()) as sandbox:
        # On a thread while the context is staged, with the helpers chosen when it starts.
        sandbox.start_kaniko_copy(layout, executor_dir, helpers)
        sandbox.populate(layout, executor_dir)
        kaniko_dir = sandbox.path(layout.kaniko_dir)
        assert sandbox.path(layout.executor).read_bytes() == b"\x7fELF not really executor"
        assert (kaniko_dir / "docker-credential-gcr").is_file()
        assert not (kaniko_dir / "docker-credential-ecr-login").exists()


def _fake_kaniko_dir(tmp_path: Path) -> tuple[Path, ChrootLayout]:
    executor_dir = tmp_path / "kaniko"
    (executor_dir / "ssl" / "certs").mkdir(parents=True)
    (executor_dir / "ssl" / "certs" / "ca-certificates.crt").write_text("")
    (executor_dir / "executor").write_bytes(os.urandom(1 << 20))
    (executor_dir / "executor").chmod(0o755)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "Dockerfile").write_text("FROM scratch\n")
    return executor_dir, chroot_layout(BuildPaths(ws, ws, ws / "Dockerfile"))


def test_a_failed_background_copy_is_raised_by_populate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executor_dir, layout = _fake_kaniko_dir(tmp_path)

    def full(self: Copier, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Copier, "copy_file", full)

    def build() -> None:
        with Sandbox(tmp_path / "work", CancelState()) as sandbox:
            sandbox.start_kaniko_copy(layout, executor_dir)
            sandbox.populate(layout, executor_dir)

    with pytest.raises(OSError, match="No space left") as raised:
        build()
    assert raised.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path / "work") == []


def test_leaving_the_sandbox_during_the_copy_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executor_dir, layout = _fake_kaniko_dir(tmp_path)
    copy_file = Copier.copy_file

    def slow(self: Copier, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)  # a big executor on a slow disk
        return copy_file(self, *args, **kwargs)

    monkeypatch.setattr(Copier, "copy_file", slow)

    def cancelled_while_staging() -> None:
        with Sandbox(tmp_path / "work", CancelState()) as sandbox:
            sandbox.start_kaniko_copy(layout, executor_dir)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cancelled_while_staging()
    # The copy finished before the work directory was removed, and wrote nothing after.
    assert threading.active_count() == 1
    assert os.listdir(tmp_path / "work") == []


@pytest.mark.parametrize(
    ("content", "helpers"),
    [
        ({"auths": {}}, set()),
        ({"auths": {}, "credsStore": "ecr-login"}, {"ecr-login"}),
        ({"credHelpers": {"a": "gcr", "b": "gcr", "c": "acr-env"}}, {"gcr", "acr-env"}),
    ],
)
def test_helpers_in_use(content: dict[str, object], helpers: set[str]) -> None:
    assert helpers_in_use(content) == helpers


MEMORY_PROBE = textwrap.dedent(
    """
    import json, os, resource, sys
    sys.path.insert(0, sys.argv[1])
    from pathlib import Path
    from kaniko_action.utils.filecopy import Copier
    from kaniko_action.sandbox.layout import ChrootLayout, chroot_layout
    from kaniko_action.spec.paths import resolve_paths
    from kaniko_action.staging.files import stage_context

    work = Path(sys.argv[2])
    big = work / "big"
    paths = resolve_paths(str(work / "ws"), "", "", "")
    (work / "root" / ".kaniko-build").mkdir(parents=True)
    status = Path("/proc/self/status").read_text()
    size = int(status.split("VmSize:")[1].split()[0]) * 1024
    # 48 MiB of address space to spare: reading the 192 MiB file at once cannot fit.
    resource.setrlimit(resource.RLIMIT_AS, (size + (48 << 20), size + (48 << 20)))
    out = {}
    try:
        big.read_bytes()
        out["whole-read-fits"] = True
    except MemoryError:
        out["whole-read-fits"] = False
    for kernel in (True, False):
        copier = Copier()
        if not kernel:
            copier._no_copy_range.add((big.stat().st_dev, work.stat().st_dev))
        copier.copy_file(big, work / f"big.{kernel}")
        out[f"copied-{kernel}"] = copier.stats.bytes_copied
    out["context"] = stage_context(str(work / "root"), paths, chroot_layout(paths)).files
    print(json.dumps(out))
    """
)


def test_memory_stays_flat_for_big_files_and_many_files(tmp_path: Path) -> None:
    """Copies and staging run with 48 MiB of address space to spare (too little for the big
    file, as the probe checks first)."""
    with open(tmp_path / "big", "wb") as f:
        block = b"\xa5" * (1 << 20)
        for _ in range(192):
            f.write(block)
    ws = tmp_path / "ws"
    for d in range(40):
        (ws / f"d{d}").mkdir(parents=True)
        for n in range(100):
            (ws / f"d{d}" / f"f{n}").write_text(f"{d}/{n}")
    (ws / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    (ws / ".dockerignore").write_text("d1*\n!d1/f1\n")
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(ROOT), str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result == {
        "whole-read-fits": False,
        "copied-True": 192 << 20,
        "copied-False": 192 << 20,
        "context": 4000 - 1100 + 1 + 2,  # d1 and d10..d19 are left out, but for d1/f1
    }
    assert (tmp_path / "big.False").read_bytes() == (tmp_path / "big").read_bytes()


REFLINK_PROBE = textwrap.dedent(
    """
    import json, os, subprocess, sys
    sys.path.insert(0, sys.argv[1])
    from kaniko_action.utils.filecopy import Copier, copy_tree
    device, mnt = sys.argv[2], sys.argv[3]
    subprocess.run(["mount", device, mnt], check=True)
    try:
        src = os.path.join(mnt, "src")
        os.mkdir(src)
        with open(os.path.join(src, "layer"), "wb") as f:
            for _ in range(64):
                f.write(os.urandom(1 << 20))
        os.sync()
        free = lambda: os.statvfs(mnt).f_bfree * os.statvfs(mnt).f_frsize
        before = free()
        copier = copy_tree(src, os.path.join(mnt, "dst"))
        os.sync()
        used = before - free()
        copy = os.path.join(mnt, "dst", "layer")
        with open(copy, "r+b") as f:
            f.write(b"changed in the chroot")
        same = open(os.path.join(src, "layer"), "rb").read(21) != b"changed in the chroot"
        print(json.dumps({"reflinked": copier.stats.reflinked, "copied": copier.stats.bytes_copied,
                          "used": used, "source_intact": same}))
    finally:
        subprocess.run(["umount", mnt], check=True)
    """
)


def test_reflinks_share_extents_on_xfs(tmp_path: Path) -> None:
    """An XFS image with reflinks, on a loop device, mounted in a private mount namespace."""
    for tool in ("mkfs.xfs", "losetup", "unshare", "mount"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if os.geteuid() != 0 or not os.path.exists("/dev/loop-control"):
        pytest.skip("loop devices need root and /dev/loop-control")
    image = tmp_path / "xfs.img"
    with open(image, "wb") as f:
        f.truncate(320 << 20)
    attach = subprocess.run(
        ["losetup", "--find", "--show", str(image)], capture_output=True, text=True
    )
    if attach.returncode != 0:
        pytest.skip(f"no loop device available: {attach.stderr.strip()}")
    device = attach.stdout.strip()
    try:
        subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", device], check=True)
        (tmp_path / "mnt").mkdir()
        proc = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", sys.executable, "-c",
             REFLINK_PROBE, str(ROOT), device, str(tmp_path / "mnt")],
            capture_output=True, text=True,
        )  # fmt: skip
    finally:
        subprocess.run(["losetup", "--detach", device], check=True)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["reflinked"] == 1 and result["copied"] == 0, result
    assert result["used"] < 4 << 20, result  # 64 MiB "copied" for the price of metadata
    assert result["source_intact"], result
