"""The registry client against registries that send too much or too slowly: every answer is read
up to a limit, and every request ends by its deadline."""

from __future__ import annotations

import json
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler

import pytest

from kaniko_action.oci.media import DOCKER_MANIFEST
from kaniko_action.registry.auth import ConfigCredential
from kaniko_action.registry.client import (
    DEFAULT_LIMITS,
    Limits,
    RegistryClient,
    RegistryRequestError,
    RegistryTrust,
)

from .support.scripted_http import ScriptedServer, reply

MIB = 1 << 20
SERVED = 64 * MIB  # what a hostile server tries to send at most (it would never stop)
BLOCK = b" " * (64 * 1024)
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST}).encode()


class Flood:
    """A registry whose answer to one kind of request never ends: `framing` "chunked" or
    "close" (no Content-Length), or "length" (a Content-Length of 512 MiB). `sent` counts the
    body bytes it managed to hand to the kernel."""

    def __init__(self, target: str, framing: str, status: int = 200) -> None:
        self.target, self.framing, self.status = target, framing, status
        self.sent = 0
        self.realm = ScriptedServer(self._answer)
        self.registry = ScriptedServer(self._answer)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        kind = "token" if path.startswith("/token") else "blob" if "/blobs/" in path else ""
        kind = kind or ("manifest" if "/manifests/" in path else "ping")
        if kind == "ping":
            challenge = f'Bearer realm="http://{self.realm.host}/token",service="flood"'
            if self.target != "token" or handler.headers.get("Authorization"):
                reply(handler, 200)
            else:
                reply(handler, 401, headers={"WWW-Authenticate": challenge})
            return
        if kind != self.target:
            token = json.dumps({"token": "t"}).encode()
            reply(handler, 200, token if kind == "token" else MANIFEST)
            return
        handler.close_connection = True  # a short body ends where the connection does
        handler.send_response(self.status)
        if self.framing == "length":
            handler.send_header("Content-Length", str(512 * MIB))
        elif self.framing == "chunked":
            handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            while self.sent < SERVED:
                if self.framing == "chunked":
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(BLOCK), BLOCK))
                else:
                    handler.wfile.write(BLOCK)
                self.sent += len(BLOCK)
            if self.framing == "chunked":
                handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    def stop(self) -> None:
        self.registry.stop()
        self.realm.stop()


@pytest.mark.parametrize(
    ("target", "framing", "status", "held", "message"),
    [
        ("manifest", "chunked", 200, 4, "longer than the 4 MiB a manifest may have"),
        ("manifest", "close", 200, 4, "longer than the 4 MiB a manifest may have"),
        ("manifest", "length", 200, 0, "announces 536870912 bytes, more than the 4 MiB a manifest"),
        ("token", "chunked", 200, 1, "longer than the 1 MiB a token answer may have"),
        ("blob", "length", 200, 0, "more than the 16 MiB a blob read into memory may have"),
        ("blob", "chunked", 200, 16, "longer than the 16 MiB a blob read into memory may have"),
        # An error's body is only read this far: the status is what the client reports.
        ("manifest", "chunked", 404, 0, "manifests/1: 404 Not Found"),
    ],
)
def test_answers_are_read_up_to_a_limit(
    target: str, framing: str, status: int, held: int, message: str
) -> None:
    """`held`: the MiB the client may read before it stops (0: it refuses before reading)."""
    flood = Flood(target, framing, status)
    client = RegistryClient(
        RegistryTrust(insecure=frozenset({flood.registry.host})),
        lambda _r: ConfigCredential("basic", "user", "pw"),
    )
    host = flood.registry.host
    call = (
        (lambda: client.blob(host, "a/b", "sha256:" + "0" * 64))
        if target == "blob"
        else (lambda: client.manifest(host, "a/b", "1"))
    )
    tracemalloc.start()
    try:
        with pytest.raises(RegistryRequestError) as caught:
            call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        flood.stop()
    text = str(caught.value)
    assert message in text
    assert host in text
    # The client's memory stays near what it may read, however much the server sends; the
    # server hands the kernel little more before the client hangs up.
    assert peak < held * MIB + MIB, peak
    assert flood.sent < SERVED / 2, flood.sent


def test_the_manifest_limit_is_exact() -> None:
    """A manifest of exactly 4 MiB is read whole; one byte more, chunked, is refused."""
    pad = DEFAULT_LIMITS.manifest - len(json.dumps({"schemaVersion": 2, "pad": ""}))
    exact = json.dumps({"schemaVersion": 2, "pad": "x" * pad}).encode()
    assert len(exact) == DEFAULT_LIMITS.manifest == 4 * MIB

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if "/manifests/" not in handler.path:
            reply(handler, 200)
            return
        body = exact if handler.path.endswith("/exact") else exact + b" "
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        handler.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))

    with ScriptedServer(answer) as registry:
        client = RegistryClient(RegistryTrust(insecure=frozenset({registry.host})))
        assert client.manifest(registry.host, "a/b", "exact").body == exact
        with pytest.raises(RegistryRequestError, match="longer than the 4 MiB a manifest"):
            client.manifest(registry.host, "a/b", "over")


class Trickle:
    """A registry answering manifest requests one byte every 100 ms, for at most 10 s: in the
    status line and headers (`where` "headers") or in the body ("body")."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.server = ScriptedServer(self._answer)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        if "/manifests/" not in handler.path:
            reply(handler, 200)
            return
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(MANIFEST)
        slow, fast = (head + MANIFEST, b"") if self.where == "headers" else (MANIFEST, head)
        handler.close_connection = True
        started = time.monotonic()
        try:
            handler.wfile.write(fast)
            for i in range(len(slow)):
                handler.wfile.write(slow[i : i + 1])
                handler.wfile.flush()
                if time.monotonic() - started > 10:
                    return
                time.sleep(0.1)
        except OSError:
            return


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_trickling_registry_meets_the_deadline(where: str) -> None:
    trickle = Trickle(where)
    host = trickle.server.host
    client = RegistryClient(
        RegistryTrust(insecure=frozenset({host})),
        limits=Limits(deadline=1.0, attempt_timeout=0.5),
    )
    started = time.monotonic()
    try:
        with pytest.raises(RegistryRequestError) as caught:
            client.manifest(host, "a/b", "1")
    finally:
        elapsed = time.monotonic() - started
        trickle.server.stop()
    assert elapsed < 2.5, elapsed
    assert f"registry {host}: GET http://{host}/v2/a/b/manifests/1: no complete answer" in str(
        caught.value
    )
    assert "within the 1 s the request may take (retries included)" in str(caught.value)


def test_retries_stop_at_the_deadline() -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        reply(handler, 503 if "/manifests/" in handler.path else 200)

    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    with ScriptedServer(answer) as registry:
        client = RegistryClient(
            RegistryTrust(insecure=frozenset({registry.host})),
            attempts=10,
            backoff=0.4,
            limits=Limits(deadline=1.0),
            sleep=sleep,
        )
        with pytest.raises(RegistryRequestError, match="HTTP 503"):
            client.manifest(registry.host, "a/b", "1")
    # A wait of 0.4 s fits in the second the request may take; the next one, 0.8 s, not.
    assert slept == [0.4]
