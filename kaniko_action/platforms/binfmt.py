"""binfmt_misc handlers, the pure part: the ELF header a platform's binaries start with, and
whether a registered handler (qemu-user, say) would run them. A handler's interpreter must
be opened when it is registered (flag `F`) to work inside a chroot."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from ..oci.platform import Platform

# architecture -> (ELF class: 1 = 32-bit, 2 = 64-bit; data: 1 = little, 2 = big endian; e_machine)
ELF_MACHINES: Mapping[str, tuple[int, int, int]] = {
    "amd64": (2, 1, 62),
    "386": (1, 1, 3),
    "arm64": (2, 1, 183),
    "arm": (1, 1, 40),
    "ppc64le": (2, 1, 21),
    "ppc64": (2, 2, 21),
    "s390x": (2, 2, 22),
    "riscv64": (2, 1, 243),
    "mips64le": (2, 1, 8),
    "mips64": (2, 2, 8),
    "mipsle": (1, 1, 8),
    "mips": (1, 2, 8),
    "loong64": (2, 1, 258),
}


def elf_header(platform: Platform) -> bytes | None:
    """The first 64 bytes of an executable for `platform`, or None for an unknown one."""
    found = ELF_MACHINES.get(platform.arch)
    if found is None:
        return None
    elf_class, data, machine = found
    order: Literal["little", "big"] = "little" if data == 1 else "big"
    ident = b"\x7fELF" + bytes([elf_class, data, 1]) + bytes(9)
    e_type = (2).to_bytes(2, order)  # ET_EXEC
    e_machine = machine.to_bytes(2, order)
    e_version = (1).to_bytes(4, order)
    return (ident + e_type + e_machine + e_version).ljust(64, b"\0")


@dataclass(frozen=True)
class Handler:
    name: str
    enabled: bool
    interpreter: str
    flags: str
    offset: int
    magic: bytes
    mask: bytes

    def matches(self, header: bytes) -> bool:
        if not self.magic:
            return False
        window = header[self.offset : self.offset + len(self.magic)]
        if len(window) < len(self.magic):
            return False
        mask = self.mask or b"\xff" * len(self.magic)
        return all((h & m) == (g & m) for h, m, g in zip(window, mask, self.magic))

    @property
    def fixed(self) -> bool:
        """Flag F: the kernel keeps the interpreter open, so it works in any chroot."""
        return "F" in self.flags


def parse_handler(name: str, text: str) -> Handler | None:
    """A `/proc/sys/fs/binfmt_misc/<name>` file; None for extension-based handlers."""
    fields: dict[str, str] = {}
    enabled = False
    for line in text.splitlines():
        line = line.strip()
        if line in ("enabled", "disabled"):
            enabled = line == "enabled"
            continue
        key, _, value = line.partition(" ")
        fields[key.rstrip(":")] = value.strip()
    if "magic" not in fields:
        return None
    try:
        magic = bytes.fromhex(fields["magic"])
        mask = bytes.fromhex(fields.get("mask", ""))
        offset = int(fields.get("offset", "0"))
    except ValueError:
        return None
    return Handler(
        name=name,
        enabled=enabled,
        interpreter=fields.get("interpreter", ""),
        flags=fields.get("flags", ""),
        offset=offset,
        magic=magic,
        mask=mask,
    )


def handlers_for(platform: Platform, handlers: Iterable[Handler]) -> list[Handler]:
    """Enabled handlers that would run `platform`'s executables."""
    header = elf_header(platform)
    if header is None:
        return []
    return [h for h in handlers if h.enabled and h.matches(header)]
