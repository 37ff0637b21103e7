"""The action's registry client against real registries: plain HTTP, TLS with htpasswd, mutual
TLS, and token authentication through a token server; retries and redirects against a small
local server that misbehaves on purpose."""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from kaniko_action.oci.media import DOCKER_MANIFEST, sha256_digest
from kaniko_action.registry.auth import ANONYMOUS, ConfigCredential
from kaniko_action.registry.client import RegistryClient, RegistryRequestError, RegistryTrust

from .support.images import busybox_layer, push_busybox, push_busybox_index
from .support.local_http import LocalHTTPServer
from .support.registry import Registry
from .support.token_server import TokenServer

pytestmark = pytest.mark.e2e

USER, PASSWORD = "builder", "client-pw-7Hq"


def basic(user: str = USER, password: str = PASSWORD) -> ConfigCredential:
    return ConfigCredential("basic", user, password)


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry.start(tmp_path_factory.mktemp("secure"), tls=True, users={USER: PASSWORD}) as r:
        r.client().push_image("base/busybox", "latest", [busybox_layer()], {"Cmd": ["sh"]})
        yield r


@pytest.fixture(scope="module")
def mtls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry.start(
        tmp_path_factory.mktemp("mtls"), tls=True, users={USER: PASSWORD}, client_ca=True
    ) as r:
        r.client().push_image("base/busybox", "latest", [busybox_layer()], {"Cmd": ["sh"]})
        yield r


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TokenServer, Registry]]:
    base = tmp_path_factory.mktemp("token")
    server = TokenServer.start(base / "server", {USER: PASSWORD}, {"refresh-123": USER})
    with (
        server,
        Registry.start(
            base / "registry", users={USER: PASSWORD}, token_auth=server.registry_auth()
        ) as registry,
    ):
        push_busybox_index(registry.client(), "base/multi", "1")
        yield server, registry


def test_plain_registry_manifests_blobs_and_push_by_digest(
    registry: Registry, busybox_image: str
) -> None:
    client = RegistryClient(RegistryTrust(insecure=frozenset({registry.host})))
    manifest = client.manifest(registry.host, "base/busybox", "latest")
    assert manifest.digest == registry.client().get_manifest("base/busybox", "latest").digest
    assert manifest.media_type == DOCKER_MANIFEST
    config = manifest.json()["config"]
    assert isinstance(config, dict)
    assert client.config_digest(registry.host, "base/busybox", manifest.digest) == config["digest"]

    # A blob: uploaded once, then found; mounted into another repository.
    data = gzip.compress(b"layer bytes", mtime=0)
    digest = sha256_digest(data)
    upload = client.upload_blob(
        registry.host, "client/one", digest, len(data), lambda: _stream(data)
    )
    again = client.upload_blob(
        registry.host, "client/one", digest, len(data), lambda: _stream(data)
    )
    mounted = client.upload_blob(
        registry.host, "client/two", digest, len(data), lambda: _stream(data), ["client/one"]
    )
    assert (upload, again, mounted) == ("uploaded", "exists", "mounted")
    assert client.blob(registry.host, "client/two", digest) == data

    # A manifest under its digest only: no tag appears.
    body = registry.client().get_manifest_bytes("base/busybox", "latest")[1]
    for blob in [json.loads(body)["config"], *json.loads(body)["layers"]]:
        content = registry.client().get_blob("base/busybox", blob["digest"])
        client.upload_blob(
            registry.host, "client/bydigest", blob["digest"], len(content),
            lambda c=content: _stream(c), ["base/busybox"],  # type: ignore[misc]
        )  # fmt: skip
    pushed = client.put_manifest(
        registry.host, "client/bydigest", sha256_digest(body), body, DOCKER_MANIFEST
    )
    assert pushed == sha256_digest(body)
    assert registry.client().tags("client/bydigest") == []
    assert registry.client().manifest_exists("client/bydigest", pushed)


def _stream(data: bytes) -> BinaryIO:
    return io.BytesIO(data)


def test_docker_hub_pulls_go_to_the_mirror(registry: Registry, busybox_image: str) -> None:
    digest = push_busybox(registry, "library/busybox", "1.36")
    client = RegistryClient(
        RegistryTrust(insecure=frozenset({registry.host}), mirrors=(registry.host,))
    )
    assert client.pull_manifest("index.docker.io", "library/busybox", "1.36").digest == digest
    # A mirror with a path prefix: host/prefix/library/busybox.
    assert push_busybox(registry, "hub/library/busybox", "1.36") == digest
    client = RegistryClient(
        RegistryTrust(insecure=frozenset({registry.host}), mirrors=(f"{registry.host}/hub",))
    )
    assert client.pull_manifest("index.docker.io", "library/busybox", "1.36").digest == digest


def test_tls_registry_with_htpasswd(secure: Registry) -> None:
    assert secure.ca_cert_path is not None
    trust = RegistryTrust(registry_cas={secure.host: (secure.ca_cert_path,)})
    client = RegistryClient(trust, lambda _r: basic())
    expected = secure.client().get_manifest("base/busybox", "latest").digest
    assert client.manifest(secure.host, "base/busybox", "latest").digest == expected
    # The runner's CA bundle is an alternative to a per-registry CA.
    bundle = RegistryTrust(ca_bundle=secure.ca_cert_path.read_bytes())
    assert (
        RegistryClient(bundle, lambda _r: basic())
        .manifest(secure.host, "base/busybox", "latest")
        .digest
        == expected
    )
    skip = RegistryTrust(skip_verify=frozenset({secure.host}))
    assert (
        RegistryClient(skip, lambda _r: basic())
        .manifest(secure.host, "base/busybox", "latest")
        .digest
        == expected
    )


@pytest.mark.parametrize(
    ("trusted", "credential", "explained"),
    [
        (False, basic(), "presented a TLS certificate from an unknown CA: give its CA with"),
        (True, basic(password="wrong"), "rejected the credentials (401): check 'username'"),
        (True, ANONYMOUS, "requires credentials and the docker config has none for it"),
    ],
)
def test_tls_registry_failures_are_explained(
    secure: Registry, trusted: bool, credential: ConfigCredential, explained: str
) -> None:
    assert secure.ca_cert_path is not None
    cas = {secure.host: (secure.ca_cert_path,)} if trusted else {}
    client = RegistryClient(RegistryTrust(registry_cas=cas), lambda _r: credential)
    with pytest.raises(RegistryRequestError) as caught:
        client.manifest(secure.host, "base/busybox", "latest")
    assert f"registry {secure.host} " in str(caught.value)
    assert explained in str(caught.value)
    assert "wrong" not in str(caught.value) and PASSWORD not in str(caught.value)


def test_mutual_tls(mtls: Registry) -> None:
    assert mtls.ca_cert_path and mtls.client_cert_path and mtls.client_key_path
    cas = {mtls.host: (mtls.ca_cert_path,)}
    without = RegistryClient(RegistryTrust(registry_cas=cas), lambda _r: basic())
    with pytest.raises(RegistryRequestError) as caught:
        without.manifest(mtls.host, "base/busybox", "latest")
    assert f"registry {mtls.host}" in str(caught.value)
    assert f"'registry-client-certs: {mtls.host}=cert.pem,key.pem'" in str(caught.value)
    certs = {mtls.host: (mtls.client_cert_path, mtls.client_key_path)}
    client = RegistryClient(RegistryTrust(registry_cas=cas, client_certs=certs), lambda _r: basic())
    assert client.manifest(mtls.host, "base/busybox", "latest").digest == (
        mtls.client().get_manifest("base/busybox", "latest").digest
    )


@pytest.mark.parametrize("which", ["ca", "cert", "key"])
def test_tls_files_are_read_without_following_a_link(
    mtls: Registry, tmp_path: Path, which: str
) -> None:
    """The spec refused links leaving the workspace; one made since is not followed either
    (the client reads each file from a descriptor opened with O_NOFOLLOW)."""
    assert mtls.ca_cert_path and mtls.client_cert_path and mtls.client_key_path
    files = {"ca": mtls.ca_cert_path, "cert": mtls.client_cert_path, "key": mtls.client_key_path}
    link = tmp_path / f"{which}.pem"
    link.symlink_to(files[which])
    files[which] = link
    trust = RegistryTrust(
        registry_cas={mtls.host: (files["ca"],)},
        client_certs={mtls.host: (files["cert"], files["key"])},
    )
    client = RegistryClient(trust, lambda _r: basic())
    expected = f"cannot use a TLS file for registry {mtls.host}: {link} is a symbolic link"
    with pytest.raises(RegistryRequestError, match=re.escape(expected)):
        client.manifest(mtls.host, "base/busybox", "latest")


def test_token_auth_with_scopes_per_repository(tokens: tuple[TokenServer, Registry]) -> None:
    server, registry = tokens
    client = RegistryClient(RegistryTrust(insecure=frozenset({registry.host})), lambda _r: basic())
    expected = registry.client().get_manifest("base/multi", "1").digest
    first = len(server.requests)
    assert client.manifest(registry.host, "base/multi", "1").digest == expected
    data = b"token-auth blob"
    digest = sha256_digest(data)
    client.upload_blob(registry.host, "tok/app", digest, len(data), lambda: _stream(data))
    client.upload_blob(
        registry.host, "tok/other", digest, len(data), lambda: _stream(data), ["tok/app"]
    )
    asked = [(r.method, r.user, r.scopes) for r in server.requests[first:]]
    assert asked == [
        ("GET", USER, ["repository:base/multi:pull"]),
        ("GET", USER, ["repository:tok/app:pull"]),
        ("GET", USER, ["repository:tok/app:pull,push"]),
        ("GET", USER, ["repository:tok/other:pull"]),
        ("GET", USER, ["repository:tok/app:pull", "repository:tok/other:pull,push"]),
    ]
    assert registry.client().get_blob("tok/other", digest) == data


def test_token_auth_with_an_identity_token_and_a_registry_token(
    tokens: tuple[TokenServer, Registry],
) -> None:
    server, registry = tokens
    trust = RegistryTrust(insecure=frozenset({registry.host}))
    first = len(server.requests)
    refresh = RegistryClient(
        trust, lambda _r: ConfigCredential("identity-token", "", "refresh-123")
    )
    assert refresh.manifest(registry.host, "base/multi", "1").media_type
    assert [(r.method, r.user) for r in server.requests[first:]] == [("POST", USER)]
    issued = server.issue(USER, "kaniko-build-test-registry", ["repository:base/multi:pull"])
    before = len(server.requests)
    direct = RegistryClient(trust, lambda _r: ConfigCredential("registry-token", "", issued))
    assert direct.manifest(registry.host, "base/multi", "1").media_type
    assert len(server.requests) == before
    wrong = RegistryClient(trust, lambda _r: ConfigCredential("identity-token", "", "nope"))
    with pytest.raises(RegistryRequestError, match=r"rejected the credentials \(401\)"):
        wrong.manifest(registry.host, "base/multi", "1")


def test_unreachable_registry_is_explained() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{s.getsockname()[1]}"
    client = RegistryClient(RegistryTrust(insecure=frozenset({closed})), attempts=2, backoff=0)
    with pytest.raises(RegistryRequestError, match=rf"registry {closed} is unreachable"):
        client.manifest(closed, "a/b", "1")


class Flaky:
    """A registry that answers 503, then 429 (Retry-After: 3), then properly; and redirects
    blob downloads to a second server that records the headers it got."""

    def __init__(self, failures: list[int]) -> None:
        self.failures = list(failures)
        self.seen: list[tuple[str, str, str | None]] = []
        owner = self

        class Storage(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.seen.append(("storage", self.path, self.headers.get("Authorization")))
                body = b"blob from storage"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Registry_(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.seen.append(("registry", self.path, self.headers.get("Authorization")))
                if self.path == "/v2/":
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="flaky"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if owner.failures:
                    status = owner.failures.pop(0)
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "3")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if "/blobs/" in self.path:
                    self.send_response(307)
                    self.send_header("Location", f"http://localhost:{owner.storage_port}/b")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b'{"schemaVersion":2}'
                self.send_response(200)
                self.send_header("Content-Type", DOCKER_MANIFEST)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.servers = [LocalHTTPServer(Registry_), LocalHTTPServer(Storage)]
        self.storage_port = self.servers[1].port
        self.host = f"127.0.0.1:{self.servers[0].port}"

    def close(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture
def flaky() -> Iterator[Flaky]:
    server = Flaky([503, 429, 502])
    yield server
    server.close()


def test_retries_with_backoff_and_retry_after(flaky: Flaky) -> None:
    slept: list[float] = []
    client = RegistryClient(
        RegistryTrust(insecure=frozenset({flaky.host})),
        lambda _r: basic(),
        backoff=0.5,
        sleep=slept.append,
    )
    assert client.manifest(flaky.host, "a/b", "1").body == b'{"schemaVersion":2}'
    assert slept == [0.5, 3.0, 2.0]
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert [s for s in flaky.seen if "manifests" in s[1]][-1][2] == expected


def test_gives_up_after_the_last_attempt(flaky: Flaky) -> None:
    flaky.failures[:] = [503] * 10
    client = RegistryClient(
        RegistryTrust(insecure=frozenset({flaky.host})), attempts=3, sleep=lambda _s: None
    )
    with pytest.raises(RegistryRequestError, match=r"manifests/1: HTTP 503"):
        client.manifest(flaky.host, "a/b", "1")
    assert len(flaky.failures) == 7


def test_redirect_to_other_host_drops_authorization(flaky: Flaky) -> None:
    flaky.failures.clear()
    client = RegistryClient(RegistryTrust(insecure=frozenset({flaky.host})), lambda _r: basic())
    with pytest.raises(RegistryRequestError, match="does not match"):
        # The storage serves other bytes than the digest: the client notices.
        client.blob(flaky.host, "a/b", "sha256:" + "0" * 64)
    storage = [s for s in flaky.seen if s[0] == "storage"]
    assert storage == [("storage", "/b", None)]
    registry_blob = [s for s in flaky.seen if s[0] == "registry" and "/blobs/" in s[1]]
    assert registry_blob and registry_blob[0][2] is not None


def test_credentials_are_asked_once_per_registry(secure: Registry) -> None:
    assert secure.ca_cert_path is not None
    asked: list[str] = []

    def credentials(host: str) -> ConfigCredential:
        asked.append(host)
        return basic()

    trust = RegistryTrust(registry_cas={secure.host: (secure.ca_cert_path,)})
    client = RegistryClient(trust, credentials)
    for _ in range(3):
        client.manifest(secure.host, "base/busybox", "latest")
    assert asked == [secure.host]
