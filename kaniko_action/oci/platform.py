"""Platforms (`os/arch[/variant]`): parsing and normalising them as containerd does, the
runner's own, and their descriptors in an image index. Pure but for reading `uname`."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import InputError

_PART = re.compile(r"^[a-z0-9_]+$")
_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "i386": "386",
    "i686": "386",
    "armhf": "arm",
    "armel": "arm",
}
# `uname -m` -> (architecture, variant)
_MACHINES = {
    "x86_64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "arm64": ("arm64", ""),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i686": ("386", ""),
    "i386": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
    "loongarch64": ("loong64", ""),
    "mips64": ("mips64", ""),
}


@dataclass(frozen=True, order=True)
class Platform:
    os: str
    arch: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.arch, self.variant) if p)

    def descriptor(self) -> dict[str, str]:
        """The `platform` object of an image index entry."""
        found = {"architecture": self.arch, "os": self.os}
        if self.variant:
            found["variant"] = self.variant
        return found

    def matches(self, entry: Mapping[str, object]) -> bool:
        """Whether an index entry's `platform` object is this platform (a missing variant on
        either side matches, as arm64 indexes often omit `v8`)."""
        if entry.get("os") != self.os or entry.get("architecture") != self.arch:
            return False
        variant = entry.get("variant") or ""
        return not self.variant or not variant or variant == self.variant


def parse_platform(name: str, value: str) -> Platform:
    """`os/arch[/variant]`, normalised as containerd does (`linux/aarch64` -> `linux/arm64`,
    `linux/arm64/v8` -> `linux/arm64`, `linux/arm` -> `linux/arm/v7`)."""
    parts = value.strip().lower().split("/")
    if len(parts) not in (2, 3) or not all(_PART.match(p) for p in parts):
        raise InputError(name, f"'{value}' is not os/arch[/variant], e.g. linux/arm64")
    os_name, arch = parts[0], _ARCH_ALIASES.get(parts[1], parts[1])
    variant = parts[2] if len(parts) == 3 else ""
    if parts[1] == "armhf" and not variant:
        variant = "v7"
    if parts[1] == "armel" and not variant:
        variant = "v6"
    if arch == "arm64" and variant == "v8":
        variant = ""
    if arch == "arm" and not variant:
        variant = "v7"
    return Platform(os_name, arch, variant)


def parse_platforms(name: str, values: Sequence[str]) -> tuple[Platform, ...]:
    found: list[Platform] = []
    for value in values:
        platform = parse_platform(name, value)
        if platform in found:
            raise InputError(name, f"'{value}' is given twice")
        found.append(platform)
    return tuple(found)


def host_platform(machine: str | None = None) -> Platform:
    """The runner's platform, from `uname -m` (or the `machine` given)."""
    if machine is None:
        machine = os.uname().machine
    arch, variant = _MACHINES.get(machine, (_ARCH_ALIASES.get(machine, machine), ""))
    return Platform("linux", arch, variant)
