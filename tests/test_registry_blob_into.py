"""RegistryClient.blob_into: a blob streamed into a file from where the file stands, checked
for size and digest, and started again from that place when an attempt is retried; against
the real test registry and a small local server that misbehaves on purpose."""

from __future__ import annotations

import hashlib
import io
import socket
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from kaniko_action.registry.client import RegistryClient, RegistryRequestError, RegistryTrust

from .support.local_http import LocalHTTPServer
from .support.registry import Registry

HEADER = b"header bytes kept before the blob\n"
DATA = bytes(range(256)) * 6000  # 1.5 MB: more than one read (1 MiB) of the client's
CUT = len(DATA) * 3 // 4  # where an answer is broken off: after the client's first read
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Watched(io.BufferedRandom):
    """A file that tells when something is written to it after the header."""

    def __init__(self, path: Path) -> None:
        super().__init__(io.FileIO(path, "w+"))
        self.written = threading.Event()

    def write(self, data: Any) -> int:
        done = super().write(data)
        if self.tell() > len(HEADER):
            self.written.set()
        return done


def _into(
    client: RegistryClient,
    host: str,
    repo: str,
    digest: str,
    size: int,
    path: Path,
    written: list[threading.Event] | None = None,
) -> None:
    with Watched(path) as out:
        out.write(HEADER)
        out.written.clear()
        if written is not None:
            written.append(out.written)
        client.blob_into(host, repo, digest, size, out)
        assert out.tell() == len(HEADER) + size


# ---------------------------------------------------------------- the real registry


@pytest.mark.e2e
def test_streams_a_blob_after_what_the_file_holds(registry: Registry, tmp_path: Path) -> None:
    digest = registry.client().push_blob("blobs/into", DATA)
    assert digest == DIGEST
    client = RegistryClient(RegistryTrust(insecure=frozenset({registry.host})))
    path = tmp_path / "out"
    _into(client, registry.host, "blobs/into", DIGEST, len(DATA), path)
    assert path.read_bytes() == HEADER + DATA


@pytest.mark.e2e
def test_real_registry_answers_of_another_size_raise(registry: Registry, tmp_path: Path) -> None:
    registry.client().push_blob("blobs/into", DATA)
    client = RegistryClient(RegistryTrust(insecure=frozenset({registry.host})))
    with open(tmp_path / "out", "w+b") as out:
        with pytest.raises(RegistryRequestError, match=f"is over {len(DATA) - 1} bytes"):
            client.blob_into(registry.host, "blobs/into", DIGEST, len(DATA) - 1, out)
        out.seek(0)
        with pytest.raises(RegistryRequestError, match="does not match"):
            client.blob_into(registry.host, "blobs/into", DIGEST, len(DATA) + 1, out)
        out.seek(0)
        with pytest.raises(RegistryRequestError):
            client.blob_into(registry.host, "blobs/into", "sha256:" + "0" * 64, 10, out)


# ---------------------------------------------------------- a server that misbehaves


class Blobs:
    """Answers `/v2/` with 200 and each blob request with the next of `plan`:
    "ok" (DATA), "wrong" (other bytes of DATA's size), "long" (DATA and more, Content-Length
    saying so), "long-unannounced" (the same without Content-Length), "503",
    "reset" (DATA up to CUT, then a TCP reset), "closed" (the same, then the connection
    closed cleanly, short of its Content-Length). The last entry repeats."""

    def __init__(self, plan: list[str]) -> None:
        self.plan = plan
        self.requests: list[str] = []
        self.written: list[threading.Event] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/v2/":
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                owner.requests.append(self.path)
                what = owner.plan.pop(0) if len(owner.plan) > 1 else owner.plan[0]
                if what == "503":
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = {
                    "wrong": bytes(reversed(DATA)),
                    "long": DATA + b"more",
                    "long-unannounced": DATA + b"more",
                }.get(what, DATA)
                self.send_response(200)
                if what != "long-unannounced":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if what in ("reset", "closed"):
                    self.wfile.write(body[:CUT])
                    self.wfile.flush()
                    # Broken off once the client has written its first read to the file.
                    assert owner.written and owner.written[0].wait(5)
                    if what == "reset":
                        self.connection.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                    self.connection.close()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.server = LocalHTTPServer(Handler)
        self.host = f"127.0.0.1:{self.server.port}"

    def client(self) -> RegistryClient:
        return RegistryClient(
            RegistryTrust(insecure=frozenset({self.host})), attempts=3, sleep=lambda _s: None
        )


@pytest.fixture
def blobs() -> Iterator[Blobs]:
    server = Blobs(["ok"])
    yield server
    server.server.stop()


def test_a_good_answer_is_written_once(blobs: Blobs, tmp_path: Path) -> None:
    _into(blobs.client(), blobs.host, "a/b", DIGEST, len(DATA), tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == HEADER + DATA
    assert blobs.requests == [f"/v2/a/b/blobs/{DIGEST}"]


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("wrong", "does not match"),
        ("long", "is over"),
        ("long-unannounced", "is over"),
    ],
)
def test_answers_that_are_not_the_blob_raise(
    blobs: Blobs, tmp_path: Path, answer: str, why: str
) -> None:
    blobs.plan[:] = [answer]
    with pytest.raises(RegistryRequestError, match=why):
        _into(blobs.client(), blobs.host, "a/b", DIGEST, len(DATA), tmp_path / "out")
    assert len(blobs.requests) == 1  # a wrong answer is not asked again
    assert (tmp_path / "out").read_bytes()[: len(HEADER)] == HEADER


def test_a_reset_mid_body_is_retried_from_the_files_place(blobs: Blobs, tmp_path: Path) -> None:
    blobs.plan[:] = ["reset", "ok"]
    _into(blobs.client(), blobs.host, "a/b", DIGEST, len(DATA), tmp_path / "out", blobs.written)
    assert (tmp_path / "out").read_bytes() == HEADER + DATA  # the first attempt's bytes not kept
    assert len(blobs.requests) == 2


def test_a_503_then_the_blob(blobs: Blobs, tmp_path: Path) -> None:
    blobs.plan[:] = ["503", "reset", "ok"]
    _into(blobs.client(), blobs.host, "a/b", DIGEST, len(DATA), tmp_path / "out", blobs.written)
    assert (tmp_path / "out").read_bytes() == HEADER + DATA
    assert len(blobs.requests) == 3


def test_resets_on_every_attempt_give_up(blobs: Blobs, tmp_path: Path) -> None:
    blobs.plan[:] = ["reset"]
    with pytest.raises(RegistryRequestError):
        _into(blobs.client(), blobs.host, "a/b", DIGEST, len(DATA), tmp_path / "out", blobs.written)
    assert len(blobs.requests) == 3  # the client's attempts


def test_a_connection_closed_mid_body_is_retried(blobs: Blobs, tmp_path: Path) -> None:
    blobs.plan[:] = ["closed", "ok"]
    _into(blobs.client(), blobs.host, "a/b", DIGEST, len(DATA), tmp_path / "out", blobs.written)
    assert (tmp_path / "out").read_bytes() == HEADER + DATA
    assert len(blobs.requests) == 2
