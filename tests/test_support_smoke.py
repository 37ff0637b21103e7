"""Smoke tests for the test support library (local registry and base images)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import requests

from tests.support import registry as registry_module
from tests.support.images import (
    HOST_BUSYBOX,
    busybox_applets,
    mounts_under,
    push_busybox,
    push_debian,
    safe_rmtree,
    unmount_all_under,
)
from tests.support.registry import (
    DOCKER_MANIFEST,
    Registry,
    RegistryClient,
    RegistryError,
)

# These start the real registry and push real images.
pytestmark = pytest.mark.e2e


def _tar(entries: list[tuple[str, bytes | str | None, int]]) -> bytes:
    """Tar from (name, content, mode): bytes -> file, None -> dir,
    "->target" -> symlink, "=>target" -> hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content, mode in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            info.mtime = 946684800
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(content, str):
                info.type = tarfile.SYMTYPE if content.startswith("->") else tarfile.LNKTYPE
                info.linkname = content[2:]
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def test_plain_registry_busybox_roundtrip(tmp_path: Path) -> None:
    with Registry.start(tmp_path) as registry:
        assert registry.url == f"http://127.0.0.1:{registry.port}"
        client = registry.client()
        assert client.ping() == 200
        assert client.tags("base/busybox") == []
        assert not client.manifest_exists("base/busybox", "latest")

        digest = push_busybox(registry)

        assert client.manifest_exists("base/busybox", "latest")
        assert client.tags("base/busybox") == ["latest"]
        assert client.catalog() == ["base/busybox"]
        by_tag = client.get_manifest("base/busybox", "latest")
        assert by_tag.digest == digest
        assert by_tag.media_type == DOCKER_MANIFEST
        assert client.get_manifest("base/busybox", digest) == by_tag

        config = client.image_config("base/busybox", "latest")
        assert config["architecture"] == "amd64" and config["os"] == "linux"
        assert config["config"]["Cmd"] == ["sh"]
        assert any(e.startswith("PATH=") for e in config["config"]["Env"])
        assert len(config["rootfs"]["diff_ids"]) == len(by_tag.manifest["layers"]) == 1

        files = client.image_files("base/busybox", "latest")
        assert files["bin/busybox"].type == "file"
        assert files["bin/busybox"].content == HOST_BUSYBOX.read_bytes()
        assert files["bin/busybox"].mode == 0o755
        assert files["bin/sh"].type == "symlink" and files["bin/sh"].linkname == "busybox"
        assert all(f"bin/{applet}" in files for applet in busybox_applets())
        assert files["tmp"].type == "dir" and files["tmp"].mode == 0o1777
        assert files["root"].mode == 0o700
        assert files["etc/passwd"].text.startswith("root:x:0:0:")
        assert files["etc/group"].text.startswith("root:x:0:")

        # Pushing the same image again is reproducible.
        assert push_busybox(registry, tag="again") == digest
        client.delete_manifest("base/busybox", digest)
        assert not client.manifest_exists("base/busybox", "latest")
    assert not registry.running


def test_tls_htpasswd_registry(tmp_path: Path) -> None:
    with Registry.start(tmp_path, tls=True, users={"alice": "secret"}) as registry:
        assert registry.url.startswith("https://127.0.0.1:")
        assert registry.ca_cert_path is not None and registry.htpasswd_path is not None
        ca = registry.ca_cert_path

        assert registry.client(auth=None).ping() == 401
        assert (
            RegistryClient(registry.url, verify=ca).request("GET", "/v2/_catalog").status_code
            == 401
        )
        assert registry.client(auth=("alice", "wrong")).ping() == 401
        assert registry.client(auth=("bob", "secret")).ping() == 401
        assert RegistryClient(registry.url, auth=("alice", "secret"), verify=ca).ping() == 200
        # The certificate is valid for "localhost" too.
        localhost = f"https://localhost:{registry.port}"
        assert RegistryClient(localhost, auth=("alice", "secret"), verify=ca).ping() == 200
        # Without the throw-away CA the certificate is not trusted.
        with pytest.raises(requests.exceptions.SSLError):
            RegistryClient(registry.url, auth=("alice", "secret")).ping()

        with pytest.raises(RegistryError, match="401"):
            registry.client(auth=None).push_blob("x/y", b"data")
        digest = push_busybox(registry, repo="private/busybox")
        assert registry.client().get_manifest("private/busybox", "latest").digest == digest
        auth = registry.docker_config()["auths"][registry.host]["auth"]
        assert auth == "YWxpY2U6c2VjcmV0"  # base64("alice:secret")


def test_mutual_tls_registry(tmp_path: Path) -> None:
    with Registry.start(tmp_path, tls=True, client_ca=True) as registry:
        assert registry.client_cert_path is not None and registry.client_key_path is not None
        assert registry.client().ping() == 200
        with pytest.raises(requests.exceptions.ConnectionError):
            registry.client(client_cert=False).ping()


def test_registry_start_failure_shows_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "fake-registry"
    fake.write_text('#!/bin/sh\necho "cannot serve $2"\nexit 3\n')
    fake.chmod(0o755)
    monkeypatch.setattr(registry_module, "REGISTRY_BINARY", str(fake))
    with pytest.raises(RegistryError, match=r"exited with 3:\ncannot serve .*config\.yml"):
        Registry.start(tmp_path / "registry", timeout=10)


def test_image_files_applies_whiteouts(tmp_path: Path) -> None:
    lower = _tar(
        [
            ("a/", None, 0o755),
            ("a/keep", b"keep", 0o644),
            ("a/gone", b"gone", 0o644),
            ("a/sub/deep", b"deep", 0o600),
            ("b/", None, 0o755),
            ("b/old", b"old", 0o644),
            ("b/dir/old2", b"old2", 0o644),
            ("c", b"file becomes a directory", 0o644),
            ("d/", None, 0o755),
            ("d/x", b"dir becomes a symlink", 0o644),
            ("e", b"hardlinked", 0o4755),
            ("f", "=>e", 0o4755),
        ]
    )
    upper = _tar(
        [
            ("b/new", b"new", 0o644),  # same layer as the opaque marker: kept
            ("a/.wh.gone", b"", 0o644),
            ("a/.wh.sub", b"", 0o644),
            ("b/.wh..wh..opq", b"", 0o644),
            ("b/", None, 0o700),
            ("c/inner", b"inner", 0o644),
            ("d", "->a", 0o777),
            ("./g/h", b"implicit parent", 0o644),
        ]
    )
    with Registry.start(tmp_path) as registry:
        client = registry.client()
        client.push_image("test/whiteouts", "v1", [lower, upper])
        files = client.image_files("test/whiteouts", "v1")

    assert sorted(files) == [
        "a", "a/keep", "b", "b/new", "c", "c/inner", "d", "e", "f", "g", "g/h",
    ]  # fmt: skip
    assert files["a/keep"].content == b"keep"
    assert files["b"].mode == 0o700 and files["b/new"].content == b"new"
    assert files["c"].type == "dir" and files["c/inner"].text == "inner"
    assert files["d"].type == "symlink" and files["d"].linkname == "a"
    assert files["e"].mode == 0o4755
    assert files["f"].type == "hardlink" and files["f"].linkname == "e"
    assert files["f"].content == b"hardlinked"
    assert files["g"].type == "dir"


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")
def test_safe_rmtree_unmounts_and_keeps_mounted_data(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    target = tmp_path / "target"
    (target / "proc").mkdir(parents=True)
    (target / "bind").mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(target / "proc")], check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount tmpfs here")
    try:
        subprocess.run(["mount", "--bind", str(outside), str(target / "bind")], check=True)
        (target / "proc" / "on-tmpfs").write_text("x")
        assert len(mounts_under(target)) == 2
        safe_rmtree(target)
        assert not target.exists()
        assert (outside / "precious").read_text() == "keep"
    finally:
        unmount_all_under(tmp_path)
    assert mounts_under(tmp_path) == []


@pytest.mark.slow
@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("debootstrap") is None,
    reason="debootstrap needs root",
)
def test_debian_base_image(tmp_path: Path) -> None:
    with Registry.start(tmp_path / "registry") as registry:
        digest = push_debian(registry)
        client = registry.client()
        assert client.get_manifest("base/debian", "bookworm").digest == digest
        files = client.image_files("base/debian", "bookworm")
        config = client.image_config("base/debian", "bookworm")
    assert files["etc/debian_version"].text.startswith("12.")
    assert files["bin"].type == "symlink" and files["bin"].linkname == "usr/bin"
    assert files["usr/bin/bash"].type == "file"
    assert files["dev"].type == "dir"
    assert not [p for p in files if p.startswith("dev/")]
    assert not [f for f in files.values() if f.type in ("char", "block", "fifo")]
    assert not [p for p in files if p.startswith("var/cache/apt/archives/")]
    assert files["tmp"].mode == 0o1777
    assert config["config"]["Cmd"] == ["bash"]
