"""The CA bundle the chroot trusts: the runner's trust store plus kaniko's own, each once."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# Where common distributions keep their system bundle (Debian/Ubuntu, RHEL/Fedora, openSUSE,
# Alpine).
SYSTEM_BUNDLES = (
    Path("/etc/ssl/certs/ca-certificates.crt"),
    Path("/etc/pki/tls/certs/ca-bundle.crt"),
    Path("/etc/ssl/ca-bundle.pem"),
    Path("/etc/ssl/cert.pem"),
)
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL)


def pem_certificates(data: bytes) -> list[bytes]:
    return [m.group(0).replace(b"\r\n", b"\n") for m in _PEM.finditer(data)]


def _key(cert: bytes) -> bytes:
    return b"".join(cert.split())


def merge_bundles(sources: Iterable[Path]) -> bytes:
    """Concatenate the certificates of each readable source, dropping duplicates."""
    seen: set[bytes] = set()
    out: list[bytes] = []
    for source in sources:
        try:
            data = source.read_bytes()
        except OSError:
            continue
        for cert in pem_certificates(data):
            key = _key(cert)
            if key not in seen:
                seen.add(key)
                out.append(cert)
    return b"\n".join(out) + b"\n" if out else b""


def runner_bundle() -> list[Path]:
    """The first system bundle that exists, or nothing."""
    for path in SYSTEM_BUNDLES:
        if path.is_file():
            return [path]
    return []
