"""A throw-away local registry (CNCF distribution) and a small client for tests.

``Registry.start()`` runs Debian's ``/usr/bin/docker-registry`` on a free
127.0.0.1 port, either over plain HTTP or over TLS with a generated CA,
optional htpasswd (basic) auth and optional client-certificate auth.
``RegistryClient`` speaks the distribution HTTP API with ``requests``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import posixpath
import re
import secrets
import socket
import subprocess
import tarfile
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple
from urllib.parse import urljoin

import requests
import yaml

from .proc import Closing

REGISTRY_BINARY = "/usr/bin/docker-registry"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_MANIFEST_MEDIA_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFEST_MEDIA_TYPES = INDEX_MEDIA_TYPES | IMAGE_MANIFEST_MEDIA_TYPES

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Fixed timestamp used for generated image configs, so pushes are reproducible.
FIXED_CREATED = "2000-01-01T00:00:00Z"

_ACCEPT_MANIFESTS = f"{OCI_INDEX}, {DOCKER_MANIFEST_LIST}, {OCI_MANIFEST}, {DOCKER_MANIFEST}"


class RegistryError(Exception):
    """The registry did not start, or answered a request unexpectedly."""


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _verify_digest(digest: str, data: bytes, what: str) -> None:
    algorithm, _, _ = digest.partition(":")
    if algorithm != "sha256":
        raise RegistryError(f"{what}: unsupported digest algorithm in {digest!r}")
    actual = sha256_digest(data)
    if actual != digest:
        raise RegistryError(f"{what}: content digest {actual} != expected {digest}")


# --------------------------------------------------------------------------- TLS


_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no

[dn]
CN = unused

[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer

[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
"""


def _run(cmd: Sequence[str | Path], *, input: bytes | None = None) -> bytes:
    proc = subprocess.run(
        [str(c) for c in cmd],
        input=input,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RegistryError(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            + proc.stderr.decode(errors="replace")
        )
    return proc.stdout


def _make_ca(directory: Path, name: str, cn: str, config: Path) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    _run(
        ["openssl", "req", "-x509", "-config", config, "-extensions", "ca_ext",
         "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "7",
         "-subj", f"/CN={cn}", "-keyout", key, "-out", cert]
    )  # fmt: skip
    return cert, key


def _make_leaf(
    directory: Path,
    name: str,
    cn: str,
    extensions: str,
    ca: tuple[Path, Path],
    config: Path,
) -> tuple[Path, Path]:
    cert, key, csr = (directory / f"{name}.{ext}" for ext in ("crt", "key", "csr"))
    _run(
        ["openssl", "req", "-new", "-config", config, "-newkey", "rsa:2048",
         "-nodes", "-subj", f"/CN={cn}", "-keyout", key, "-out", csr]
    )  # fmt: skip
    _run(
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
         "-set_serial", str(secrets.randbits(63)), "-days", "7", "-sha256",
         "-extfile", config, "-extensions", extensions, "-out", cert]
    )  # fmt: skip
    csr.unlink()
    return cert, key


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ---------------------------------------------------------------------- Registry


class Registry(Closing):
    """A running ``docker-registry`` process. Create with :meth:`start`."""

    def __init__(
        self,
        *,
        workdir: Path,
        tls: bool,
        users: Mapping[str, str],
        ca_cert_path: Path | None,
        client_ca_cert_path: Path | None,
        client_cert_path: Path | None,
        client_key_path: Path | None,
        htpasswd_path: Path | None,
        token_auth: dict[str, Any] | None = None,
    ) -> None:
        self.workdir = workdir
        self.storage_dir = workdir / "storage"
        self.config_path = workdir / "config.yml"
        self.log_path = workdir / "registry.log"
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.users: dict[str, str] = dict(users)
        self.ca_cert_path = ca_cert_path
        self.client_ca_cert_path = client_ca_cert_path
        self.client_cert_path = client_cert_path
        self.client_key_path = client_key_path
        self.htpasswd_path = htpasswd_path
        self.token_auth = token_auth
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def start(
        cls,
        tmpdir: str | os.PathLike[str],
        *,
        tls: bool = False,
        users: Mapping[str, str] | None = None,
        client_ca: bool = False,
        token_auth: dict[str, Any] | None = None,
        timeout: float = 30.0,
    ) -> Registry:
        """Start a registry storing its data and credentials under ``tmpdir``.

        ``users`` enables htpasswd (basic) auth; ``client_ca`` additionally
        requires a client certificate (only with ``tls``). ``token_auth`` is an
        ``auth`` section for token authentication (see ``TokenServer``); then
        ``users`` are the token server's users, used by ``client()``.
        """
        if client_ca and not tls:
            raise ValueError("client_ca=True requires tls=True")
        workdir = Path(tmpdir)
        workdir.mkdir(parents=True, exist_ok=True)
        ca_cert = client_ca_cert = client_cert = client_key = htpasswd = None
        server: tuple[Path, Path] | None = None
        if tls:
            tls_dir = workdir / "tls"
            tls_dir.mkdir(exist_ok=True)
            config = tls_dir / "openssl.cnf"
            config.write_text(_OPENSSL_CONFIG)
            ca = _make_ca(tls_dir, "ca", "kaniko-build test CA", config)
            ca_cert = ca[0]
            server = _make_leaf(tls_dir, "server", "127.0.0.1", "server_ext", ca, config)
            if client_ca:
                cca = _make_ca(tls_dir, "client-ca", "kaniko-build test client CA", config)
                client_ca_cert = cca[0]
                client_cert, client_key = _make_leaf(
                    tls_dir,
                    "client",
                    "kaniko-build test client",
                    "client_ext",
                    cca,
                    config,
                )
        if users and token_auth is None:
            htpasswd = workdir / "htpasswd"
            lines = [
                _run(["htpasswd", "-Bbn", user, password]).decode().strip()
                for user, password in users.items()
            ]
            htpasswd.write_text("\n".join(lines) + "\n")

        registry = cls(
            workdir=workdir,
            tls=tls,
            users=users or {},
            ca_cert_path=ca_cert,
            client_ca_cert_path=client_ca_cert,
            client_cert_path=client_cert,
            client_key_path=client_key,
            htpasswd_path=htpasswd,
            token_auth=token_auth,
        )
        registry._launch(server, timeout)
        return registry

    def _write_config(self, server: tuple[Path, Path] | None) -> None:
        http: dict[str, Any] = {
            "addr": f"127.0.0.1:{self.port}",
            "secret": secrets.token_hex(16),
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        }
        if server is not None:
            tls: dict[str, Any] = {"certificate": str(server[0]), "key": str(server[1])}
            if self.client_ca_cert_path is not None:
                tls["clientcas"] = [str(self.client_ca_cert_path)]
            http["tls"] = tls
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {
                "level": "info",
                "formatter": "text",
                "accesslog": {"disabled": False},
            },
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_dir)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": http,
        }
        if self.token_auth is not None:
            config["auth"] = self.token_auth
        elif self.htpasswd_path is not None:
            config["auth"] = {
                "htpasswd": {
                    "realm": "kaniko-build-test",
                    "path": str(self.htpasswd_path),
                }
            }
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def _launch(self, server: tuple[Path, Path] | None, timeout: float) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        for attempt in range(5):
            self.port = _free_port()
            self._write_config(server)
            self._log_file = open(self.log_path, "ab")  # noqa: SIM115
            self._process = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
            try:
                self._wait_ready(timeout)
                return
            except RegistryError:
                self.stop()
                if attempt < 4 and "address already in use" in self.log():
                    continue
                raise

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        session = self._session()
        last_error = "no attempt made"
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RegistryError(
                        f"docker-registry exited with {self._process.returncode}:\n{self.log()}"
                    )
                try:
                    response = session.get(f"{self.url}/v2/", timeout=2)
                    if response.status_code in (200, 401):
                        return
                    last_error = f"HTTP {response.status_code}"
                except requests.RequestException as exc:
                    last_error = str(exc)
                time.sleep(0.05)
        finally:
            session.close()
        raise RegistryError(
            f"docker-registry did not answer GET /v2/ within {timeout}s "
            f"({last_error}):\n{self.log()}"
        )

    def stop(self) -> None:
        """Terminate the registry process (idempotent)."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            self._process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    close = stop

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- addresses and credentials ------------------------------------------

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry part of an image reference."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def ref(self, repo: str, tag_or_digest: str = "latest") -> str:
        """Image reference ``HOST/repo:tag`` (or ``HOST/repo@sha256:...``)."""
        sep = "@" if ":" in tag_or_digest else ":"
        return f"{self.host}/{repo}{sep}{tag_or_digest}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def docker_config(self, user: str | None = None) -> dict[str, Any]:
        """A ``~/.docker/config.json`` document with basic auth for ``user``
        (default: the first configured user; no auths when there are none)."""
        if user is None and not self.users:
            return {"auths": {}}
        name = user if user is not None else next(iter(self.users))
        token = base64.b64encode(f"{name}:{self.users[name]}".encode()).decode()
        return {"auths": {self.host: {"auth": token}}}

    def _session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.ca_cert_path) if self.ca_cert_path else True
        if self.client_cert_path and self.client_key_path:
            session.cert = (str(self.client_cert_path), str(self.client_key_path))
        return session

    def client(
        self,
        auth: tuple[str, str] | Literal["default"] | None = "default",
        *,
        client_cert: bool = True,
    ) -> RegistryClient:
        """A client trusting this registry's CA.

        ``auth="default"`` uses the first configured user (anonymous when
        there are none); ``None`` is anonymous; otherwise ``(user, password)``.
        ``client_cert=False`` omits the TLS client certificate.
        """
        credentials: tuple[str, str] | None
        if isinstance(auth, str):
            credentials = next(iter(self.users.items())) if self.users else None
        else:
            credentials = auth
        cert = None
        if client_cert and self.client_cert_path and self.client_key_path:
            cert = (self.client_cert_path, self.client_key_path)
        return RegistryClient(
            self.url,
            auth=credentials,
            verify=self.ca_cert_path if self.ca_cert_path else True,
            cert=cert,
            token_auth=self.token_auth is not None,
        )


# ------------------------------------------------------------- image contents


FileType = Literal["file", "dir", "symlink", "hardlink", "char", "block", "fifo"]


@dataclass(frozen=True)
class FileEntry:
    """One path of an image filesystem after all layers were applied.

    ``mode`` holds permission bits only (including setuid/setgid/sticky).
    ``content`` is set for files and for hardlinks (the target's content);
    ``linkname`` is the raw symlink target, or the normalized path (no
    leading slash) of a hardlink's target.
    """

    path: str
    type: FileType
    mode: int
    uid: int = 0
    gid: int = 0
    content: bytes | None = None
    linkname: str | None = None
    mtime: int = 0

    @property
    def text(self) -> str:
        if self.content is None:
            raise ValueError(f"{self.path} ({self.type}) has no content")
        return self.content.decode()


def normalize_path(name: str) -> str | None:
    """Tar member name -> image path without leading slash (None for the root)."""
    path = posixpath.normpath("/" + name).lstrip("/")
    if path in ("", "."):
        return None
    return path


def decompress_layer(blob: bytes) -> bytes:
    """Return the uncompressed tar of a gzip, zstd or uncompressed layer blob."""
    if blob[:2] == b"\x1f\x8b":
        return gzip.decompress(blob)
    if blob[:4] == b"\x28\xb5\x2f\xfd":
        return _run(["zstd", "-dc"], input=blob)
    return blob


def _is_under(path: str, directory: str) -> bool:
    return directory == "" or path.startswith(directory + "/")


def _remove_tree(fs: dict[str, FileEntry], path: str) -> None:
    fs.pop(path, None)
    for key in [k for k in fs if _is_under(k, path)]:
        del fs[key]


_TAR_TYPES: dict[bytes, FileType] = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}


def apply_layer(fs: dict[str, FileEntry], layer_tar: bytes) -> None:
    """Apply one uncompressed layer tar to ``fs`` in place.

    Whiteouts (``.wh.NAME`` and ``.wh..wh..opq``) hide paths of lower layers
    only, as in the OCI image spec, regardless of their position in the tar.
    """
    whiteouts: list[str] = []
    opaque_dirs: list[str] = []
    members: list[tuple[tarfile.TarInfo, str, bytes | None]] = []
    with tarfile.open(fileobj=io.BytesIO(layer_tar), mode="r:") as tar:
        for member in tar:
            path = normalize_path(member.name)
            if path is None:
                continue
            parent, base = posixpath.split(path)
            if base == ".wh..wh..opq":
                opaque_dirs.append(parent)
            elif base.startswith(".wh."):
                whiteouts.append(posixpath.join(parent, base[len(".wh.") :]))
            else:
                content = None
                if member.isreg():
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    content = extracted.read()
                members.append((member, path, content))

    for directory in opaque_dirs:
        for key in [k for k in fs if _is_under(k, directory)]:
            del fs[key]
    for path in whiteouts:
        _remove_tree(fs, path)

    for member, path, content in members:
        kind = _TAR_TYPES.get(member.type)
        if kind is None:
            raise ValueError(f"unsupported tar member type {member.type!r} for {path}")
        parts = path.split("/")
        for i in range(1, len(parts)):
            ancestor = "/".join(parts[:i])
            existing = fs.get(ancestor)
            if existing is None or existing.type != "dir":
                if existing is not None:
                    _remove_tree(fs, ancestor)
                fs[ancestor] = FileEntry(ancestor, "dir", 0o755)
        existing = fs.get(path)
        if existing is not None and not (kind == "dir" and existing.type == "dir"):
            _remove_tree(fs, path)
        linkname: str | None = None
        if kind == "symlink":
            linkname = member.linkname
        elif kind == "hardlink":
            linkname = normalize_path(member.linkname)
            target = fs.get(linkname) if linkname is not None else None
            content = target.content if target is not None else None
        fs[path] = FileEntry(
            path=path,
            type=kind,
            mode=member.mode & 0o7777,
            uid=member.uid,
            gid=member.gid,
            content=content,
            linkname=linkname,
            mtime=int(member.mtime),
        )


def apply_layers(layer_tars: Iterable[bytes]) -> dict[str, FileEntry]:
    """Filesystem resulting from uncompressed layer tars, lowest first."""
    fs: dict[str, FileEntry] = {}
    for layer in layer_tars:
        apply_layer(fs, layer)
    return dict(sorted(fs.items()))


# ------------------------------------------------------------------ the client


class Manifest(NamedTuple):
    digest: str
    manifest: dict[str, Any]
    media_type: str


def _platform_matches(entry: Mapping[str, Any], platform: str) -> bool:
    wanted = platform.split("/")
    actual = entry.get("platform") or {}
    if actual.get("os") != wanted[0] or actual.get("architecture") != wanted[1]:
        return False
    return len(wanted) < 3 or actual.get("variant") == wanted[2]


class RegistryClient(Closing):
    """Minimal client for the distribution HTTP API: basic auth, or Bearer tokens fetched
    with basic auth from the realm a 401 names (``token_auth``)."""

    def __init__(
        self,
        url: str,
        auth: tuple[str, str] | None = None,
        verify: bool | str | os.PathLike[str] = True,
        cert: tuple[str | os.PathLike[str], str | os.PathLike[str]] | None = None,
        timeout: float = 120.0,
        token_auth: bool = False,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False
        self.token_auth = token_auth
        self._basic = auth
        self._tokens: dict[str, str] = {}
        self.session.auth = None if token_auth else auth
        self.session.verify = verify if isinstance(verify, bool) else os.fspath(verify)
        if cert is not None:
            self.session.cert = (os.fspath(cert[0]), os.fspath(cert[1]))

    def close(self) -> None:
        self.session.close()

    # -- raw HTTP -------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request; ``path`` is relative to the registry URL or absolute."""
        url = path if path.startswith(("http://", "https://")) else self.url + path
        kwargs.setdefault("timeout", self.timeout)
        response = self.session.request(method, url, **kwargs)
        challenge = response.headers.get("WWW-Authenticate", "")
        if response.status_code != 401 or not self.token_auth or not challenge.startswith("Bearer"):
            return response
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        scope = params.get("scope", "")
        token = self._tokens.get(scope)
        if token is None:
            answer = requests.get(
                params["realm"],
                params={"service": params.get("service", ""), "scope": scope},
                auth=self._basic,
                timeout=self.timeout,
            )
            answer.raise_for_status()
            token = str(answer.json()["token"])
            self._tokens[scope] = token
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, url, headers=headers, **kwargs)

    def _expect(
        self, method: str, path: str, expected: Collection[int], **kwargs: Any
    ) -> requests.Response:
        response = self.request(method, path, **kwargs)
        if response.status_code not in expected:
            raise RegistryError(
                f"{method} {path}: HTTP {response.status_code} "
                f"(expected {sorted(expected)}): {response.text[:2000]}"
            )
        return response

    def ping(self) -> int:
        """Status code of ``GET /v2/`` (200 when authorized, 401 otherwise)."""
        return self.request("GET", "/v2/").status_code

    # -- blobs --------------------------------------------------------------------

    def blob_exists(self, repo: str, digest: str) -> bool:
        response = self._expect("HEAD", f"/v2/{repo}/blobs/{digest}", {200, 404})
        return response.status_code == 200

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = sha256_digest(data)
        if self.blob_exists(repo, digest):
            return digest
        started = self._expect("POST", f"/v2/{repo}/blobs/uploads/", {202})
        location = urljoin(self.url + "/", started.headers["Location"])
        self._expect(
            "PUT",
            location,
            {201},
            params={"digest": digest},
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        return digest

    def get_blob(self, repo: str, digest: str) -> bytes:
        data = self._expect("GET", f"/v2/{repo}/blobs/{digest}", {200}).content
        _verify_digest(digest, data, f"blob {repo}@{digest}")
        return data

    # -- manifests -----------------------------------------------------------------

    def push_manifest(self, repo: str, ref: str, manifest_bytes: bytes, media_type: str) -> str:
        digest = sha256_digest(manifest_bytes)
        response = self._expect(
            "PUT",
            f"/v2/{repo}/manifests/{ref}",
            {201},
            data=manifest_bytes,
            headers={"Content-Type": media_type},
        )
        returned = response.headers.get("Docker-Content-Digest")
        if returned is not None and returned != digest:
            raise RegistryError(f"registry returned digest {returned}, expected {digest}")
        return digest

    def get_manifest_bytes(self, repo: str, ref: str) -> tuple[str, bytes, str]:
        """``(digest, raw body, media type)`` with the digest verified."""
        response = self._expect(
            "GET",
            f"/v2/{repo}/manifests/{ref}",
            {200},
            headers={"Accept": _ACCEPT_MANIFESTS},
        )
        body = response.content
        digest = response.headers.get("Docker-Content-Digest")
        if digest is None:
            raise RegistryError(f"{repo}:{ref}: no Docker-Content-Digest header")
        _verify_digest(digest, body, f"manifest {repo}:{ref}")
        if ref.startswith("sha256:") and ref != digest:
            raise RegistryError(f"asked for {ref}, got manifest {digest}")
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type not in MANIFEST_MEDIA_TYPES:
            inner = json.loads(body).get("mediaType")
            if inner not in MANIFEST_MEDIA_TYPES:
                raise RegistryError(f"{repo}:{ref}: unsupported manifest type {media_type!r}")
            media_type = inner
        return digest, body, media_type

    def get_manifest(self, repo: str, ref: str) -> Manifest:
        """Manifest or index by tag or digest: ``(digest, parsed, media_type)``."""
        digest, body, media_type = self.get_manifest_bytes(repo, ref)
        parsed: dict[str, Any] = json.loads(body)
        inner = parsed.get("mediaType")
        if inner is not None and inner != media_type:
            raise RegistryError(f"{repo}:{ref}: Content-Type {media_type} but mediaType {inner}")
        return Manifest(digest, parsed, media_type)

    def manifest_exists(self, repo: str, ref: str) -> bool:
        response = self._expect(
            "HEAD", f"/v2/{repo}/manifests/{ref}", {200, 404},
            headers={"Accept": _ACCEPT_MANIFESTS},
        )  # fmt: skip
        return response.status_code == 200

    def delete_manifest(self, repo: str, digest: str) -> None:
        self._expect("DELETE", f"/v2/{repo}/manifests/{digest}", {202})

    # -- listings -------------------------------------------------------------------

    def _paginate(self, path: str, key: str, allow_missing: bool) -> list[str]:
        items: list[str] = []
        next_path: str | None = path
        while next_path is not None:
            response = self._expect("GET", next_path, {200, 404})
            if response.status_code == 404:
                if allow_missing:
                    return []
                raise RegistryError(f"GET {next_path}: HTTP 404: {response.text}")
            items.extend(response.json().get(key) or [])
            link = response.links.get("next", {}).get("url")
            next_path = urljoin(self.url + "/", link) if link else None
        return items

    def tags(self, repo: str) -> list[str]:
        """Tags of ``repo``; empty when the repository is unknown."""
        return self._paginate(f"/v2/{repo}/tags/list?n=1000", "tags", allow_missing=True)

    def catalog(self) -> list[str]:
        return self._paginate("/v2/_catalog?n=1000", "repositories", allow_missing=False)

    # -- images -----------------------------------------------------------------------

    def resolve_image(self, repo: str, ref: str, platform: str = "linux/amd64") -> Manifest:
        """The image manifest for ``ref``, choosing ``platform`` from an index."""
        result = self.get_manifest(repo, ref)
        if result.media_type in INDEX_MEDIA_TYPES:
            for entry in result.manifest.get("manifests", []):
                if _platform_matches(entry, platform):
                    return self.resolve_image(repo, entry["digest"], platform)
            raise RegistryError(f"{repo}:{ref}: no manifest for platform {platform}")
        return result

    def image_config(self, repo: str, ref: str, platform: str = "linux/amd64") -> dict[str, Any]:
        manifest = self.resolve_image(repo, ref, platform).manifest
        config: dict[str, Any] = json.loads(self.get_blob(repo, manifest["config"]["digest"]))
        return config

    def image_layers(self, repo: str, ref: str, platform: str = "linux/amd64") -> list[bytes]:
        """Uncompressed layer tars, lowest first."""
        manifest = self.resolve_image(repo, ref, platform).manifest
        return [
            decompress_layer(self.get_blob(repo, layer["digest"]))
            for layer in manifest.get("layers", [])
        ]

    def image_files(
        self, repo: str, ref: str, platform: str = "linux/amd64"
    ) -> dict[str, FileEntry]:
        """Resulting filesystem of the image: ``"etc/hostname" -> FileEntry``."""
        return apply_layers(self.image_layers(repo, ref, platform))

    def push_image(
        self,
        repo: str,
        tag: str,
        layers: Sequence[bytes],
        config: Mapping[str, Any] | None = None,
        *,
        compresslevel: int = 6,
        platform: str = "linux/amd64",
    ) -> str:
        """Push a Docker schema2 image for ``platform`` (its config's os, architecture and
        variant) and return the manifest digest.

        ``layers`` are uncompressed tars (lowest first), pushed gzip-compressed.
        ``config`` is merged into the runtime section (``"config"``) of the
        image config, whose default is ``{"Env": ["PATH=..."]}``.
        """
        runtime: dict[str, Any] = {"Env": [f"PATH={DEFAULT_PATH}"]}
        runtime.update(config or {})
        descriptors: list[dict[str, Any]] = []
        diff_ids: list[str] = []
        history: list[dict[str, Any]] = []
        for index, layer in enumerate(layers):
            blob = gzip.compress(layer, compresslevel=compresslevel, mtime=0)
            digest = self.push_blob(repo, blob)
            descriptors.append(
                {"mediaType": DOCKER_LAYER_GZIP, "size": len(blob), "digest": digest}
            )
            diff_ids.append(sha256_digest(layer))
            history.append({"created": FIXED_CREATED, "created_by": f"tests.support layer {index}"})
        os_name, arch, *variant = platform.split("/")
        image_config: dict[str, Any] = {
            "architecture": arch,
            "os": os_name,
            "created": FIXED_CREATED,
            "config": runtime,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        }
        if variant:
            image_config["variant"] = variant[0]
        config_bytes = json.dumps(image_config, sort_keys=True).encode()
        config_digest = self.push_blob(repo, config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": DOCKER_CONFIG,
                "size": len(config_bytes),
                "digest": config_digest,
            },
            "layers": descriptors,
        }
        manifest_bytes = json.dumps(manifest, indent=3).encode()
        return self.push_manifest(repo, tag, manifest_bytes, DOCKER_MANIFEST)

    def push_index(
        self, repo: str, tag: str, manifests: Sequence[tuple[str, str]], *, oci: bool = False
    ) -> str:
        """Push an image index (a Docker manifest list, or an OCI index with ``oci``) over
        ``(platform, manifest digest)`` pairs already in ``repo``; returns its digest."""
        entries = []
        for platform, digest in manifests:
            found = self.get_manifest(repo, digest)
            os_name, arch, *variant = platform.split("/")
            described: dict[str, str] = {"architecture": arch, "os": os_name}
            if variant:
                described["variant"] = variant[0]
            size = len(self.get_manifest_bytes(repo, digest)[1])
            entries.append(
                {"mediaType": found.media_type, "digest": digest, "size": size,
                 "platform": described}
            )  # fmt: skip
        media_type = OCI_INDEX if oci else DOCKER_MANIFEST_LIST
        body = json.dumps(
            {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}, indent=2
        ).encode()
        return self.push_manifest(repo, tag, body, media_type)
