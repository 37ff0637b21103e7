"""The registry client's credentials and TLS settings against registries that send it elsewhere:
a token server over plain HTTP, a redirect to plain HTTP, a token server on another port. The
registries and token servers are local HTTPS servers with self-signed certificates."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from kaniko_action.oci.media import DOCKER_MANIFEST, sha256_digest
from kaniko_action.registry.auth import ConfigCredential
from kaniko_action.registry.client import RegistryClient, RegistryRequestError, RegistryTrust

from .support.scripted_http import ScriptedServer, SelfSigned, reply

USER, PASSWORD = "builder", "trust-pw-4Kd"
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST}).encode()
TOKEN = "issued-token"


AUTHORIZATION = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def basic(_registry: str) -> ConfigCredential:
    return ConfigCredential("basic", USER, PASSWORD)


@dataclass(frozen=True)
class Certs:
    registry: SelfSigned
    realm: SelfSigned
    client: SelfSigned  # the registry's client certificate


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    base = tmp_path_factory.mktemp("certs")
    return Certs(*(SelfSigned.make(base, name) for name in ("registry", "realm", "client")))


def token_server(handler: BaseHTTPRequestHandler) -> None:
    reply(handler, 200, json.dumps({"token": TOKEN}).encode())


class BearerRegistry:
    """An HTTPS registry (it asks for client certificates, not requiring them) sending clients
    to `realm` for tokens, serving one manifest to a client with the token."""

    def __init__(self, certs: Certs, realm: str) -> None:
        self.realm = realm
        tls = certs.registry.server_context(client_ca=certs.client.cert)
        self.server = ScriptedServer(self._answer, tls)
        self.host = self.server.host

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get("Authorization") != f"Bearer {TOKEN}":
            challenge = f'Bearer realm="{self.realm}",service="trust-test"'
            reply(handler, 401, headers={"WWW-Authenticate": challenge})
        elif handler.path == "/v2/":
            reply(handler, 200)
        else:
            reply(handler, 200, MANIFEST, {"Content-Type": DOCKER_MANIFEST})


@pytest.fixture
def plain_realm() -> Iterator[ScriptedServer]:
    with ScriptedServer(token_server) as server:
        yield server


def test_an_https_registry_s_plain_http_realm_gets_no_credentials(
    certs: Certs, plain_realm: ScriptedServer
) -> None:
    registry = BearerRegistry(certs, f"http://{plain_realm.host}/token")
    try:
        trust = RegistryTrust(registry_cas={registry.host: (certs.registry.cert,)})
        with pytest.raises(RegistryRequestError) as caught:
            RegistryClient(trust, basic).manifest(registry.host, "a/b", "1")
        assert plain_realm.seen == []
        assert str(caught.value) == (
            f"registry {registry.host} sends clients to the token server "
            f"http://{plain_realm.host}/token, which is not HTTPS while {registry.host} is "
            f"reached over HTTPS: the credentials are not sent there (list {registry.host} in "
            "'insecure-registries' to allow it)"
        )
        # Listed as insecure, the registry may use a plain HTTP token server.
        insecure = RegistryTrust(
            insecure=frozenset({registry.host}),
            registry_cas={registry.host: (certs.registry.cert,)},
        )
        assert RegistryClient(insecure, basic).manifest(registry.host, "a/b", "1").body == MANIFEST
        assert [s.authorization for s in plain_realm.seen] == [AUTHORIZATION]
    finally:
        registry.server.stop()


def test_a_redirect_to_plain_http_on_the_same_host_and_port_drops_authorization(
    certs: Certs,
) -> None:
    """The registry serves HTTPS and plain HTTP on one port; its blob download redirects from
    one to the other: only the scheme changes, and the credentials stay behind."""
    blob = b"blob bytes"
    digest = sha256_digest(blob)

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.path.startswith("/storage/"):
            reply(handler, 200, blob)
        elif handler.headers.get("Authorization") is None:
            reply(handler, 401, headers={"WWW-Authenticate": 'Basic realm="trust-test"'})
        elif "/blobs/" in handler.path:
            location = f"http://{server.host}/storage/{digest}"
            reply(handler, 307, headers={"Location": location})
        else:
            reply(handler, 200)

    with ScriptedServer(answer, certs.registry.server_context()) as server:
        trust = RegistryTrust(registry_cas={server.host: (certs.registry.cert,)})
        assert RegistryClient(trust, basic).blob(server.host, "a/b", digest) == blob
        seen = [(s.path.split("/")[1], s.tls, s.authorization) for s in server.seen]
    assert seen[-2:] == [("v2", True, AUTHORIZATION), ("storage", False, None)]


@pytest.mark.parametrize("case", ["skip-verify", "client-certificate", "ca-of-the-realm"])
def test_a_token_server_elsewhere_gets_its_own_tls_settings(certs: Certs, case: str) -> None:
    """The registry's skip-verify, client certificate and CA are the registry's: a token
    server on another port is verified (and offered a client certificate) by its own."""
    with ScriptedServer(token_server, certs.realm.server_context(certs.client.cert)) as realm:
        registry = BearerRegistry(certs, f"https://{realm.host}/token")
        cas: dict[str, tuple[Path, ...]] = {registry.host: (certs.registry.cert,)}
        bundle = b""
        if case == "ca-of-the-realm":
            cas[realm.host] = (certs.realm.cert,)
        elif case == "client-certificate":
            bundle = certs.realm.cert.read_bytes()  # the runner's CA bundle: trusted everywhere
        trust = RegistryTrust(
            ca_bundle=bundle,
            registry_cas=cas,
            skip_verify=frozenset({registry.host} if case == "skip-verify" else ()),
            client_certs={registry.host: (certs.client.cert, certs.client.key)},
        )
        try:
            client = RegistryClient(trust, basic)
            if case == "skip-verify":
                with pytest.raises(RegistryRequestError) as caught:
                    client.manifest(registry.host, "a/b", "1")
                assert (
                    f"registry {realm.host} presented a TLS certificate from an unknown CA"
                    in str(caught.value)
                )
                assert realm.seen == []
            else:
                assert client.manifest(registry.host, "a/b", "1").body == MANIFEST
                assert [(s.authorization, s.client_cert) for s in realm.seen] == [
                    (AUTHORIZATION, False)
                ]
            assert registry.server.seen and all(s.client_cert for s in registry.server.seen)
        finally:
            registry.server.stop()
