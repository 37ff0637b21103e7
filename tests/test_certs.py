"""The chroot's CA bundle: the runner's trust store plus kaniko's, each certificate once."""

from __future__ import annotations

from pathlib import Path

from kaniko_action.utils.pem import merge_bundles, pem_certificates


def cert(n: int) -> bytes:
    body = f"MIIB{n:04d}".encode() * 8
    return b"-----BEGIN CERTIFICATE-----\n" + body + b"\n-----END CERTIFICATE-----"


def test_merge_dedupes_across_files_and_line_endings(tmp_path: Path) -> None:
    runner = tmp_path / "runner.crt"
    runner.write_bytes(cert(1) + b"\n" + cert(2) + b"\n" + cert(1) + b"\n")
    own = tmp_path / "kaniko.crt"
    own.write_bytes(cert(2).replace(b"\n", b"\r\n") + b"\r\n" + cert(3) + b"\n")
    merged = merge_bundles([runner, own, tmp_path / "missing.crt"])
    assert pem_certificates(merged) == [cert(1), cert(2), cert(3)]


def test_text_around_certificates_is_dropped(tmp_path: Path) -> None:
    bundle = tmp_path / "b.crt"
    bundle.write_bytes(b"# ACME Root\n" + cert(7) + b"\nsubject=x\n")
    assert merge_bundles([bundle]) == cert(7) + b"\n"
    assert merge_bundles([tmp_path / "none"]) == b""
