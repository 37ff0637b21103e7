"""Stand-ins for hostile registries and token servers: a local HTTP(S) server whose every answer
comes from a function of the test, recording what each request brought (path, Authorization,
TLS or not, a client certificate or not); and self-signed certificates for them."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from .local_http import LocalHTTPServer


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    authorization: str | None
    tls: bool
    client_cert: bool


Answer = Callable[[BaseHTTPRequestHandler], None]


class ScriptedServer:
    """Answers every request with `answer(handler)` (HTTP/1.1), over TLS too when given a
    server-side context; `seen` lists the requests in order."""

    def __init__(self, answer: Answer, tls: ssl.SSLContext | None = None) -> None:
        self.seen: list[Seen] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                sock = self.request
                over_tls = isinstance(sock, ssl.SSLSocket)
                owner.seen.append(
                    Seen(
                        self.command,
                        self.path,
                        self.headers.get("Authorization"),
                        over_tls,
                        over_tls and sock.getpeercert(binary_form=True) is not None,
                    )
                )
                answer(self)

            do_GET = do_HEAD = do_POST = do_PUT = _any

        self._server = LocalHTTPServer(Handler, tls)
        self.port = self._server.port
        self.host = f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> None:
    """A complete answer with a Content-Length."""
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


@dataclass(frozen=True)
class SelfSigned:
    """A self-signed certificate for 127.0.0.1 (its own CA) and its key."""

    cert: Path
    key: Path

    @classmethod
    def make(cls, directory: Path, name: str) -> SelfSigned:
        cert, key = directory / f"{name}.pem", directory / f"{name}.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-sha256", "-days", "2", "-subj", f"/CN={name}",
             "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        return cls(cert, key)

    def server_context(self, client_ca: Path | None = None) -> ssl.SSLContext:
        """A server-side context; with `client_ca`, client certificates it issued are asked
        for (not required) and checked."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert), str(self.key))
        if client_ca is not None:
            context.verify_mode = ssl.CERT_OPTIONAL
            context.load_verify_locations(cafile=str(client_ca))
        return context
