"""Preflight checks: capabilities, the work volume's mount options and free space."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaniko_action.errors import SandboxError
from kaniko_action.sandbox.preflight import (
    MARGIN_BYTES,
    MountFlags,
    check_capabilities,
    check_free_space,
    check_work_base,
    effective_capabilities,
    out_of_space,
    tree_bytes,
)

ALL = "000001ffffffffff"


def status(cap_eff: str) -> str:
    return f"Name:\tpython3\nCapInh:\t0000000000000000\nCapEff:\t{cap_eff}\n"


def test_capabilities_are_read_from_proc_status() -> None:
    assert effective_capabilities(status(ALL)) == int(ALL, 16)
    assert effective_capabilities("Name: x\n") is None


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        (1 << 18, "lacks the SYS_CHROOT capability: .*; add it to the runner container"),
        (1 << 27, "lacks the MKNOD capability: .*; add it to the runner container"),
        (
            (1 << 18) | (1 << 27),
            "lacks the SYS_CHROOT and MKNOD capabilities: .*; add them to the runner container",
        ),
    ],
)
def test_a_missing_capability_names_it_and_the_fix(drop: int, message: str) -> None:
    caps = int(ALL, 16) & ~drop
    with pytest.raises(SandboxError, match=message) as caught:
        check_capabilities(status(f"{caps:016x}"), euid=0)
    assert "securityContext.capabilities.add: [SYS_CHROOT, MKNOD]" in str(caught.value)
    check_capabilities(status(ALL), euid=0)


def test_not_root_is_named_before_capabilities() -> None:
    with pytest.raises(SandboxError, match=r"needs root .* passwordless sudo"):
        check_capabilities(status(ALL), euid=1001)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (MountFlags(nodev=True, noexec=False, readonly=False), "mounted nodev"),
        (MountFlags(nodev=False, noexec=True, readonly=False), "mounted noexec"),
        (MountFlags(nodev=False, noexec=False, readonly=True), "read-only"),
    ],
)
def test_mount_options_that_break_the_sandbox(flags: MountFlags, message: str) -> None:
    with pytest.raises(SandboxError, match=message):
        check_work_base(Path("/runner/_work/_temp"), flags)
    check_work_base(Path("/x"), MountFlags(nodev=False, noexec=False, readonly=False))


def test_free_space(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 100_000)
    with (tmp_path / "sparse").open("wb") as f:
        f.truncate(512 * 1024 * 1024)
    used = tree_bytes([tmp_path])
    assert 100_000 <= used < 1024 * 1024
    check_free_space(tmp_path, used, available=used + MARGIN_BYTES)
    with pytest.raises(SandboxError, match=r"not enough free space in .*only 64 MiB is free"):
        check_free_space(tmp_path, used, available=MARGIN_BYTES)


def test_refusals_name_the_work_dir_input_when_it_chose_the_place(tmp_path: Path) -> None:
    nodev = MountFlags(nodev=True, noexec=False, readonly=False)
    with pytest.raises(SandboxError, match=r"\(RUNNER_TEMP\).*point RUNNER_TEMP at"):
        check_work_base(tmp_path, nodev)
    with pytest.raises(SandboxError) as raised:
        check_work_base(tmp_path, nodev, from_input=True)
    message = str(raised.value)
    assert f"{tmp_path} (input 'work-dir')" in message and "RUNNER_TEMP" not in message
    with pytest.raises(SandboxError) as raised:
        check_free_space(tmp_path, 0, available=0, from_input=True)
    message = str(raised.value)
    assert f"not enough free space in {tmp_path} (input 'work-dir')" in message
    assert "sizeLimit" in message and "RUNNER_TEMP" not in message
    message = str(out_of_space(tmp_path, from_input=True))
    assert "(input 'work-dir')" in message and "sizeLimit" in message
