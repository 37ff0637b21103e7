"""Run a command under a seccomp filter that refuses unshare(2) with EPERM, as the container
runtimes' default profiles refuse it to a container without CAP_SYS_ADMIN: a runner that has
every capability and still cannot make namespaces.

    python3 tests/support/seccomp.py COMMAND [ARG...]
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
import sys

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
# (AUDIT_ARCH_*, the number of unshare) per machine.
ARCHES = {"x86_64": (0xC000003E, 272), "aarch64": (0xC00000B7, 97)}
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06


def supported() -> bool:
    return platform.machine() in ARCHES


def _program() -> bytes:
    arch, unshare = ARCHES[platform.machine()]
    deny = SECCOMP_RET_ERRNO | errno.EPERM
    instructions = [
        (BPF_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (BPF_JEQ_K, 1, 0, arch),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        (BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        (BPF_JEQ_K, 0, 1, unshare),
        (BPF_RET_K, 0, 0, deny),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]
    return b"".join(struct.pack("HBBI", *i) for i in instructions)


class _Prog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install() -> None:
    code = _program()
    buffer = ctypes.create_string_buffer(code)
    prog = _Prog(len(code) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def wrapper() -> list[str]:
    """The command prefix that runs a command under the filter."""
    return [sys.executable, os.path.abspath(__file__)]


if __name__ == "__main__":
    install()
    os.execvp(sys.argv[1], sys.argv[1:])
