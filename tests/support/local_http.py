"""An HTTP server on a free 127.0.0.1 port, served from a thread (token and stand-in servers).

With a TLS context it speaks HTTPS and plain HTTP on the same port: a connection that opens
with a TLS handshake is served over TLS, any other one in plain text (so that a test can
redirect from `https://host:port` to `http://host:port`)."""

from __future__ import annotations

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_TLS_HANDSHAKE = b"\x16"  # the first byte of a TLS record carrying a handshake


class _Server(ThreadingHTTPServer):
    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.tls = tls

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(10)
        if request.recv(1, socket.MSG_PEEK) != _TLS_HANDSHAKE:
            super().finish_request(request, client_address)
            return
        wrapped = self.tls.wrap_socket(request, server_side=True)
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().handle_error(request, client_address)
        # Over TLS, failed handshakes are what some tests are about: not worth a traceback.


class LocalHTTPServer:
    """Serves `handler` until `stop`; over TLS too when given a server-side `tls` context."""

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None
    ) -> None:
        self._server = _Server(handler, tls)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
