"""A Bearer token server for a registry configured with ``auth: token`` (docker's token
authentication), as registries such as Docker Hub, GHCR or Harbor run one.

It issues RS256-signed JWTs whose header carries the signing certificate (``x5c``); the
registry trusts them through ``rootcertbundle`` (the same certificate). Users authenticate with
HTTP Basic on ``GET /token``, or with an identity (refresh) token on ``POST /token``; each
authenticated user is granted the actions it asks for, anonymous requests get no access.
Every request's user and scopes are recorded in ``requests``.

The realm is ``http://localhost:PORT/token``: recent go-containerregistry (in the maintained
executor) refuses a realm that is a loopback IP literal, but not a host name.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from .local_http import LocalHTTPServer
from .proc import Closing

ISSUER = "kaniko-build-test-issuer"
SERVICE = "kaniko-build-test-registry"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenRequest:
    method: str
    user: str | None
    service: str
    scopes: list[str]


@dataclass
class TokenServer(Closing):
    workdir: Path
    users: dict[str, str]
    identity_tokens: dict[str, str] = field(default_factory=dict)  # token -> user
    requests: list[TokenRequest] = field(default_factory=list)
    port: int = 0
    _server: LocalHTTPServer | None = None

    @property
    def key_path(self) -> Path:
        return self.workdir / "token-signing.key"

    @property
    def cert_path(self) -> Path:
        return self.workdir / "token-signing.crt"

    @property
    def realm(self) -> str:
        return f"http://localhost:{self.port}/token"

    @classmethod
    def start(
        cls,
        workdir: Path,
        users: dict[str, str],
        identity_tokens: dict[str, str] | None = None,
    ) -> TokenServer:
        workdir.mkdir(parents=True, exist_ok=True)
        server = cls(workdir, dict(users), dict(identity_tokens or {}))
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
             "-days", "7", "-subj", "/CN=kaniko-build test token issuer",
             "-keyout", str(server.key_path), "-out", str(server.cert_path)],
            check=True, capture_output=True,
        )  # fmt: skip
        server._serve()
        return server

    def _certificate_der(self) -> bytes:
        pem = self.cert_path.read_text()
        body = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
        return base64.b64decode(body)

    def _sign(self, data: bytes) -> bytes:
        return subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key_path)],
            input=data,
            check=True,
            capture_output=True,
        ).stdout

    def issue(self, user: str, service: str, scopes: list[str]) -> str:
        access: list[dict[str, Any]] = []
        for item in scopes:
            parts = item.split(":")
            if len(parts) < 3:
                continue
            kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
            access.append({"type": kind, "name": name, "actions": [a for a in actions if a]})
        now = int(time.time())
        header = {
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [base64.b64encode(self._certificate_der()).decode()],
        }
        claims = {
            "iss": ISSUER,
            "sub": user,
            "aud": service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        signature = self._sign(signing_input.encode())
        return signing_input + "." + _b64url(signature)

    def _serve(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _basic_user(self) -> str | None:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return None
                try:
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                except ValueError:
                    return None
                return user if owner.users.get(user) == password else ""

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                if url.path != "/token":
                    self._answer(404, {"error": "not found"})
                    return
                query = urllib.parse.parse_qs(url.query)
                user = self._basic_user()
                scopes = query.get("scope", [])
                service = (query.get("service") or [""])[0]
                owner.requests.append(TokenRequest("GET", user, service, scopes))
                if user == "":
                    self._answer(401, {"errors": [{"code": "UNAUTHORIZED"}]})
                    return
                token = owner.issue(user or "", service, scopes if user else [])
                self._answer(200, {"token": token, "access_token": token, "expires_in": 300})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                grant = (form.get("grant_type") or [""])[0]
                scopes = " ".join(form.get("scope", [])).split()
                service = (form.get("service") or [""])[0]
                user = None
                if grant == "refresh_token":
                    user = owner.identity_tokens.get((form.get("refresh_token") or [""])[0])
                owner.requests.append(TokenRequest("POST", user, service, scopes))
                if not user:
                    self._answer(401, {"error": "invalid_grant"})
                    return
                token = owner.issue(user, service, scopes)
                self._answer(200, {"access_token": token, "expires_in": 300})

        self._server = LocalHTTPServer(Handler)
        self.port = self._server.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    close = stop

    def registry_auth(self) -> dict[str, Any]:
        """The ``auth`` section of the registry's configuration."""
        return {
            "token": {
                "realm": self.realm,
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": str(self.cert_path),
                "autoredirect": False,
            }
        }
