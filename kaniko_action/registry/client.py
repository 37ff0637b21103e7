"""A small client of the registry HTTP API (distribution / OCI), standard library only.

It talks to registries the way the executor does: a `/v2/` ping decides the scheme (HTTPS, with
a fall-back to plain HTTP for insecure and loopback registries) and the authentication scheme
(`WWW-Authenticate`: Basic, or Bearer tokens fetched per repository and per action), with the
credentials the chroot's docker config gives (credential helpers included), the chroot's CA
bundle plus per-registry CAs and client certificates, `skip-tls-verify-registries`, registry
mirrors for Docker Hub pulls, and retries with backoff on 429 and 5xx answers.

A registry may be hostile (the Dockerfile chooses the base image's): every answer is read up to a
limit, every request has a deadline (`Limits`), TLS settings follow the host actually contacted,
and credentials go neither to a plain-HTTP token server of an HTTPS registry nor along a redirect
to another origin.

Failures raise RegistryRequestError with the same explanations as the executor's errors.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple, Union

from ..errors import ActionError
from ..executor.diagnosis import explain
from ..oci.media import ALL_MANIFESTS, IMAGE_MANIFESTS, sha256_digest
from ..spec.paths import CERTIFICATE_FILE_LIMIT
from ..spec.references import DOCKER_HUB
from ..utils.fs import read_regular_file
from .auth import (
    ANONYMOUS,
    Challenge,
    ConfigCredential,
    merge_scopes,
    parse_challenges,
    pick_challenge,
    scope,
)

USER_AGENT = "kaniko-build"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_BLOCK_SIZE = 1 << 20  # upload chunk size
_READ_SIZE = 1 << 16  # download chunk size
_MIB = 1 << 20
_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class Limits:
    """How much a registry may send and how long one request may take: the one place for them.

    A request is one exchange with its retries, backoff and redirects (an API call is one or
    two, plus a token request each).
    """

    manifest: int = 4 * _MIB  # a manifest or index (containerd's limit)
    token: int = 1 * _MIB  # a token server's answer
    blob: int = 16 * _MIB  # a blob read into memory (image configs)
    other: int = 64 * 1024  # error, redirect, ping and upload answers: read this far, no further
    deadline: float = 300.0  # seconds for one request
    attempt_timeout: float = 60.0  # socket timeout of one attempt, cut to what is left
    upload_rate: float = 256.0 * 1024  # bytes/s: an upload's deadline grows by size / rate
    download_rate: float = 256.0 * 1024  # bytes/s: so does a download's (`blob_into`)


DEFAULT_LIMITS = Limits()


class Cap(NamedTuple):
    """The most a successful answer may hold, and what it is (for the error message)."""

    what: str
    size: int


class _Deadline(NamedTuple):
    at: float  # time.monotonic()
    seconds: float  # what the request was given

    def left(self) -> float:
        return self.at - time.monotonic()


def _loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if not registry.endswith("]") else registry
    return host in ("localhost", "[::1]", "::1") or host.startswith("127.")


class RegistryRequestError(ActionError):
    """A registry request failed; the message names the registry and, when known, the fix."""

    title = "Registry"

    def __init__(self, message: str, registry: str, status: int | None = None) -> None:
        super().__init__(message)
        self.registry = registry
        self.status = status


def _tls_file(registry: str, path: Path) -> bytes:
    """A CA, certificate or key file, read without following a symlink (the inputs were
    checked when the spec was built; the workspace may have changed since)."""
    try:
        return read_regular_file(path, CERTIFICATE_FILE_LIMIT)
    except OSError as e:
        raise RegistryRequestError(
            f"cannot use a TLS file for registry {registry}: {e}", registry
        ) from None


@contextmanager
def _in_memory(data: bytes) -> Iterator[str]:
    """A path to `data` for the ssl module, which loads files only by name: a memfd of this
    process, so what it loads is what was read and checked, not whatever the name leads to
    by then."""
    with os.fdopen(os.memfd_create("kaniko-build-tls", os.MFD_CLOEXEC), "w+b") as f:
        f.write(data)
        f.flush()
        yield f"/proc/self/fd/{f.fileno()}"


@dataclass(frozen=True)
class RegistryTrust:
    """How to reach registries: the same settings the executor gets."""

    ca_bundle: bytes = b""
    insecure: frozenset[str] = frozenset()
    skip_verify: frozenset[str] = frozenset()
    registry_cas: Mapping[str, tuple[Path, ...]] = field(default_factory=dict)
    client_certs: Mapping[str, tuple[Path, Path]] = field(default_factory=dict)
    mirrors: tuple[str, ...] = ()

    def schemes(self, registry: str) -> tuple[str, ...]:
        """HTTPS first; plain HTTP as a fall-back for insecure and loopback registries (as
        go-containerregistry does)."""
        if registry in self.insecure or _loopback(registry):
            return ("https", "http")
        return ("https",)


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    url: str

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    body: bytes

    def json(self) -> dict[str, object]:
        data = json.loads(self.body)
        if not isinstance(data, dict):
            raise ValueError("manifest is not a JSON object")
        return data


@dataclass
class _Endpoint:
    scheme: str
    challenge: Challenge | None


class _Watchdog:
    """Shuts a connection's socket down when the request's deadline passes, so that a registry
    trickling bytes (status line, headers or body, in either direction) cannot hold a request
    past it. Connecting and the TLS handshake, before the socket is there to shut, are bounded
    by the connection's own timeout."""

    _RETRY = 0.05  # seconds between tries while the connection has no socket yet

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self._stopped = False
        self.fired = False
        self._timer = self._arm(max(seconds, 0.0))

    def _arm(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self._fire)
        timer.daemon = True
        timer.start()
        return timer

    def _fire(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self.fired = True
            sock = self._connection.sock
            try:
                if sock is None:
                    raise OSError("not connected yet")
                # The plain socket call: an SSLSocket's own shutdown would touch the TLS state
                # the request's thread is using.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                self._timer = self._arm(self._RETRY)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._timer.cancel()


# Python 3.9 evaluates this alias at run time: no `X | Y` here.
Body = Union[bytes, Callable[[], BinaryIO], None]
# Reads a successful answer's body itself (a blob streamed to a file) instead of the client
# keeping it; called again from the start on a retry.
Sink = Callable[[http.client.HTTPResponse], None]


def split_url(url: str) -> tuple[str, str, str]:
    parts = urllib.parse.urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.netloc, path


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """Scheme, host and port (the scheme's default when absent); None for a URL without."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    return parts.scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(parts.scheme)


def _size(limit: int) -> str:
    if limit % _MIB == 0:
        return f"{limit // _MIB} MiB"
    if limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


class RegistryClient:
    """Registry API calls with authentication, retries and the executor's trust settings.

    `credentials(registry)` gives the docker config's credential for a registry; it is asked
    once per registry. Tokens are kept per registry and set of scopes. `limits` bounds what a
    registry may send and how long a request may take.
    """

    def __init__(
        self,
        trust: RegistryTrust,
        credentials: Callable[[str], ConfigCredential] = lambda _r: ANONYMOUS,
        *,
        attempts: int = 5,
        backoff: float = 0.5,
        limits: Limits = DEFAULT_LIMITS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.trust = trust
        self._credentials_of = credentials
        self.attempts = attempts
        self.backoff = backoff
        self.limits = limits
        self._sleep = sleep
        self._endpoints: dict[str, _Endpoint] = {}
        self._credentials: dict[str, ConfigCredential] = {}
        self._tokens: dict[tuple[str, tuple[str, ...]], str] = {}
        self._contexts: dict[str, ssl.SSLContext] = {}

    # ------------------------------------------------------------------ transport

    def _ssl_context(self, host: str) -> ssl.SSLContext:
        """The TLS settings of `host` (`name[:port]`, as contacted): a token server or blob
        storage gets its own, not those of the registry that sent the client there."""
        context = self._contexts.get(host)
        if context is not None:
            return context
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if host in self.trust.skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            if self.trust.ca_bundle:
                context.load_verify_locations(cadata=self.trust.ca_bundle.decode("ascii"))
            for ca in self.trust.registry_cas.get(host, ()):
                with _in_memory(_tls_file(host, ca)) as ca_path:
                    context.load_verify_locations(cafile=ca_path)
        cert = self.trust.client_certs.get(host)
        if cert is not None:
            with (
                _in_memory(_tls_file(host, cert[0])) as cert_path,
                _in_memory(_tls_file(host, cert[1])) as key_path,
            ):
                context.load_cert_chain(cert_path, key_path)
        self._contexts[host] = context
        return context

    @staticmethod
    def _out_of_time(
        registry: str, method: str, url: str, deadline: _Deadline
    ) -> RegistryRequestError:
        return RegistryRequestError(
            f"registry {registry}: {method} {url}: no complete answer within the "
            f"{deadline.seconds:.3g} s the request may take (retries included); gave up",
            registry,
        )

    def _read_body(
        self,
        answer: http.client.HTTPResponse,
        registry: str,
        method: str,
        url: str,
        cap: Cap | None,
    ) -> bytes:
        """The answer's body, at most `cap.size` bytes: a longer one raises, before reading
        when Content-Length announces it. Without `cap` (answers nobody needs whole: errors,
        redirects, pings, uploads) the body is cut at `Limits.other`."""
        size = cap.size if cap is not None else self.limits.other
        declared = (answer.getheader("content-length") or "").strip()
        if cap is not None and declared.isdigit() and int(declared) > size:
            raise RegistryRequestError(
                f"registry {registry}: {method} {url}: the answer announces {int(declared)} "
                f"bytes, more than the {_size(size)} a {cap.what} may have; not read",
                registry,
            )
        chunks: list[bytes] = []
        total = 0
        while total <= size:
            piece = answer.read(min(_READ_SIZE, size + 1 - total))
            if not piece:
                break
            chunks.append(piece)
            total += len(piece)
        if total > size and cap is not None:
            raise RegistryRequestError(
                f"registry {registry}: {method} {url}: the answer is longer than the "
                f"{_size(size)} a {cap.what} may have; stopped reading there",
                registry,
            )
        return b"".join(chunks)[:size]

    def _send(
        self,
        registry: str,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body,
        cap: Cap | None,
        deadline: _Deadline,
        sink: Sink | None = None,
    ) -> Response:
        """One HTTP exchange, over by `deadline`; connection problems raise OSError
        (ssl.SSLError included) or http.client.HTTPException, and RegistryRequestError once the
        deadline has passed."""
        scheme, netloc, path = split_url(url)
        remaining = deadline.left()
        if remaining <= 0:
            raise self._out_of_time(registry, method, url, deadline)
        timeout = min(self.limits.attempt_timeout, remaining)
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(
                netloc, timeout=timeout, context=self._ssl_context(netloc), blocksize=_BLOCK_SIZE
            )
        elif scheme == "http":
            connection = http.client.HTTPConnection(netloc, timeout=timeout, blocksize=_BLOCK_SIZE)
        else:
            raise RegistryRequestError(
                f"registry {registry}: {method} {url}: not an https or http URL", registry
            )
        stream: BinaryIO | None = None
        watchdog = _Watchdog(connection, remaining)
        try:
            payload: bytes | BinaryIO | None
            if callable(body):
                stream = body()
                payload = stream
            else:
                payload = body
            all_headers = {"User-Agent": USER_AGENT, **headers}
            if payload is None and method in ("PUT", "POST", "PATCH"):
                all_headers.setdefault("Content-Length", "0")
            connection.request(method, path, body=payload, headers=all_headers)
            answer = connection.getresponse()
            success = 200 <= answer.status < 300
            if method == "HEAD":
                data = b""
            elif success and sink is not None:
                sink(answer)
                data = b""
            else:
                data = self._read_body(answer, registry, method, url, cap if success else None)
            found = {k.lower(): v for k, v in answer.getheaders()}
        except (OSError, http.client.HTTPException):
            if watchdog.fired:
                raise self._out_of_time(registry, method, url, deadline) from None
            raise
        finally:
            watchdog.stop()
            if stream is not None:
                stream.close()
            connection.close()
        if watchdog.fired:  # the body may look complete where the socket was shut
            raise self._out_of_time(registry, method, url, deadline)
        return Response(answer.status, found, data, url)

    def _deadline(self, headers: Mapping[str, str], body: Body, download: int = 0) -> _Deadline:
        """When a request must be over: `Limits.deadline` from now, plus the time an upload
        needs at `Limits.upload_rate` and a download of `download` bytes at
        `Limits.download_rate`."""
        size = 0
        if isinstance(body, bytes):
            size = len(body)
        elif body is not None:
            declared = headers.get("Content-Length", "")
            size = int(declared) if declared.isdigit() else 0
        seconds = (
            self.limits.deadline
            + size / self.limits.upload_rate
            + download / self.limits.download_rate
        )
        return _Deadline(time.monotonic() + seconds, seconds)

    def _exchange(
        self,
        registry: str,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body = None,
        cap: Cap | None = None,
        sink: Sink | None = None,
        download: int = 0,
    ) -> Response:
        """`_send` with retries (with backoff, honouring Retry-After) on 429/5xx answers and
        dropped connections, following redirects of GET and HEAD requests, all within one
        deadline; the Authorization header does not follow a redirect to another origin
        (scheme, host or port: blob storage, say, or plain HTTP)."""
        deadline = self._deadline(headers, body, download)
        delay = self.backoff
        attempt = 1
        hops = 0
        while True:
            try:
                response = self._send(registry, method, url, headers, body, cap, deadline, sink)
            except ConnectionRefusedError:
                raise
            except (ConnectionError, socket.timeout):
                if attempt >= self.attempts or delay >= deadline.left():
                    raise
                attempt += 1
                self._sleep(delay)
                delay *= 2
                continue
            wait = _retry_after(response, delay)
            if (
                response.status in RETRY_STATUSES
                and attempt < self.attempts
                and wait < deadline.left()
            ):
                attempt += 1
                self._sleep(wait)
                delay *= 2
                continue
            location = response.header("location")
            if response.status in _REDIRECTS and method in ("GET", "HEAD") and location:
                if hops >= 5:
                    return response
                target = urllib.parse.urljoin(url, location)
                origin = _origin(target)
                if origin is None or origin != _origin(url):
                    headers = {k: v for k, v in headers.items() if k != "Authorization"}
                url = target
                hops += 1
                continue
            return response

    # ------------------------------------------------------------------ endpoints and auth

    def _fail(self, registry: str, text: str, status: int | None = None) -> RegistryRequestError:
        explanation = explain(text, registry)
        message = f"{explanation} ({text})" if explanation else text
        return RegistryRequestError(message, registry, status)

    def endpoint(self, registry: str) -> _Endpoint:
        """Ping `/v2/` (once per registry): the scheme that answers and its challenge."""
        found = self._endpoints.get(registry)
        if found is not None:
            return found
        errors: list[str] = []
        for scheme in self.trust.schemes(registry):
            url = f"{scheme}://{registry}/v2/"
            try:
                response = self._exchange(registry, "GET", url, {})
            except (OSError, http.client.HTTPException) as e:
                errors.append(f"GET {url}: {_describe(e)}")
                continue
            if response.status not in (200, 401):
                errors.append(f"GET {url}: {_status_text(response)}")
                continue
            challenge = pick_challenge(parse_challenges(response.header("www-authenticate")))
            found = _Endpoint(scheme, challenge if response.status == 401 else None)
            self._endpoints[registry] = found
            return found
        raise self._fail(registry, "; ".join(errors))

    def credential(self, registry: str) -> ConfigCredential:
        found = self._credentials.get(registry)
        if found is None:
            found = self._credentials_of(registry)
            self._credentials[registry] = found
        return found

    def _check_realm(self, registry: str, endpoint: _Endpoint, realm: str) -> None:
        """A token server over HTTPS; over plain HTTP only for a registry itself reached that
        way or listed as insecure: an HTTPS registry's credentials never travel in clear."""
        scheme = urllib.parse.urlsplit(realm).scheme.lower()
        if scheme == "https":
            return
        if scheme == "http" and (endpoint.scheme == "http" or registry in self.trust.insecure):
            return
        raise RegistryRequestError(
            f"registry {registry} sends clients to the token server {realm}, which is not "
            f"HTTPS while {registry} is reached over {endpoint.scheme.upper()}: the credentials "
            f"are not sent there (list {registry} in 'insecure-registries' to allow it)",
            registry,
        )

    def _token(
        self, registry: str, endpoint: _Endpoint, challenge: Challenge, scopes: tuple[str, ...]
    ) -> str:
        key = (registry, scopes)
        cached = self._tokens.get(key)
        if cached is not None:
            return cached
        credential = self.credential(registry)
        if credential.kind == "registry-token":
            self._tokens[key] = credential.secret
            return credential.secret
        realm = challenge.get("realm")
        if not realm:
            raise self._fail(registry, f"registry {registry} sent a Bearer challenge without realm")
        self._check_realm(registry, endpoint, realm)
        service = challenge.get("service")
        cap = Cap("token answer", self.limits.token)
        response: Response | None = None
        try:
            if credential.kind == "identity-token":
                form = [("grant_type", "refresh_token"), ("refresh_token", credential.secret)]
                form += [("service", service)] if service else []
                form += [("client_id", USER_AGENT), ("scope", " ".join(scopes))]
                response = self._exchange(
                    registry,
                    "POST",
                    realm,
                    {"Content-Type": "application/x-www-form-urlencoded"},
                    urllib.parse.urlencode(form).encode(),
                    cap,
                )
                if response.status in (404, 405):
                    response = None
            if response is None:
                query = [("service", service)] if service else []
                query += [("scope", s) for s in scopes]
                separator = "&" if "?" in realm else "?"
                url = realm + (separator + urllib.parse.urlencode(query) if query else "")
                headers = {}
                if credential.basic is not None:
                    headers["Authorization"] = _basic(*credential.basic)
                response = self._exchange(registry, "GET", url, headers, cap=cap)
        except (OSError, http.client.HTTPException) as e:
            raise self._fail(
                registry, f"token request to {realm} for {registry}: {_describe(e)}"
            ) from e
        if response.status != 200:
            raise self._fail(
                registry,
                f"token request to {realm} for {registry}: {_status_text(response)}",
                response.status,
            )
        try:
            data = json.loads(response.body)
            token = str(data.get("token") or data.get("access_token") or "")
        except (ValueError, AttributeError):
            token = ""
        if not token:
            raise self._fail(registry, f"token server {realm} answered without a token")
        self._tokens[key] = token
        return token

    def _authorization(
        self, registry: str, endpoint: _Endpoint, scopes: tuple[str, ...]
    ) -> dict[str, str]:
        challenge = endpoint.challenge
        if challenge is None:
            return {}
        if challenge.scheme == "bearer":
            return {"Authorization": "Bearer " + self._token(registry, endpoint, challenge, scopes)}
        basic = self.credential(registry).basic
        if challenge.scheme == "basic" and basic is not None:
            return {"Authorization": _basic(*basic)}
        return {}

    def request(
        self,
        registry: str,
        method: str,
        path: str,
        scopes: Iterable[str],
        *,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        expect: Iterable[int] = (200,),
        cap: Cap | None = None,
        sink: Sink | None = None,
        download: int = 0,
    ) -> Response:
        """An authenticated request to `path` (or an absolute URL on the same registry); a
        successful answer's body is read up to `cap` (without one, cut at `Limits.other`), or
        by `sink`; `download`: the bytes the answer is expected to bring (its deadline)."""
        endpoint = self.endpoint(registry)
        wanted = merge_scopes(scopes)
        url = path if "://" in path else f"{endpoint.scheme}://{registry}{path}"
        expected = set(expect)
        for renewed in (False, True):
            all_headers = {**(headers or {}), **self._authorization(registry, endpoint, wanted)}
            try:
                response = self._exchange(
                    registry, method, url, all_headers, body, cap, sink, download
                )
            except (OSError, http.client.HTTPException) as e:
                raise self._fail(registry, f"{method} {url}: {_describe(e)}") from e
            if response.status in expected:
                return response
            bearer = endpoint.challenge is not None and endpoint.challenge.scheme == "bearer"
            if response.status == 401 and not renewed and bearer:
                # A token for more scopes (the answer names them), or a stale one.
                challenge = pick_challenge(parse_challenges(response.header("www-authenticate")))
                extra = challenge.get("scope").split(" ") if challenge else []
                self._tokens.pop((registry, wanted), None)
                wanted = merge_scopes([*wanted, *[s for s in extra if s]])
                continue
            break
        text = f"{method} {url}: {_status_text(response)}"
        if response.status == 401 and self.credential(registry).kind == "anonymous":
            return_error = RegistryRequestError(
                f"registry {registry} requires credentials and the docker config has none for "
                f"it: log in with 'username' and 'password' (or docker/login-action) ({text})",
                registry,
                401,
            )
            raise return_error
        raise self._fail(registry, text, response.status)

    # ------------------------------------------------------------------ the API

    def manifest(
        self,
        registry: str,
        repository: str,
        reference: str,
        accept: Iterable[str] = ALL_MANIFESTS,
    ) -> Manifest:
        """A manifest or index by tag or digest; the digest is checked against the body."""
        response = self.request(
            registry,
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            [scope(repository, ["pull"])],
            headers={"Accept": ", ".join(accept)},
            cap=Cap("manifest", self.limits.manifest),
        )
        digest = sha256_digest(response.body)
        if reference.startswith("sha256:") and reference != digest:
            raise self._fail(
                registry, f"{registry}/{repository}@{reference}: the registry sent {digest}"
            )
        media_type = response.header("content-type").split(";")[0].strip()
        try:
            inner = json.loads(response.body).get("mediaType")
        except (ValueError, AttributeError):
            inner = None
        if media_type not in ALL_MANIFESTS and isinstance(inner, str):
            media_type = inner
        return Manifest(digest, media_type, response.body)

    def blob_exists(self, registry: str, repository: str, digest: str) -> bool:
        response = self.request(
            registry,
            "HEAD",
            f"/v2/{repository}/blobs/{digest}",
            [scope(repository, ["pull"])],
            expect=(200, 404),
        )
        return response.status == 200

    def blob(self, registry: str, repository: str, digest: str) -> bytes:
        """A small blob (an image config), read into memory: at most `Limits.blob` bytes."""
        response = self.request(
            registry,
            "GET",
            f"/v2/{repository}/blobs/{digest}",
            [scope(repository, ["pull"])],
            cap=Cap("blob read into memory", self.limits.blob),
        )
        if sha256_digest(response.body) != digest:
            raise self._fail(registry, f"{registry}/{repository}: blob {digest} does not match")
        return response.body

    def blob_into(
        self, registry: str, repository: str, digest: str, size: int, out: BinaryIO
    ) -> None:
        """Stream the blob `digest` of `size` bytes (its descriptor's) into `out` from where it
        is now; raises unless exactly those bytes, with that digest, came. A retry starts
        `out` again from that place."""
        import hashlib

        start = out.tell()

        def sink(answer: http.client.HTTPResponse) -> None:
            out.seek(start)
            out.truncate()
            hashed = hashlib.sha256()
            total = 0
            while chunk := answer.read(_BLOCK_SIZE):
                total += len(chunk)
                if total > size:
                    raise self._fail(
                        registry, f"{registry}/{repository}: blob {digest} is over {size} bytes"
                    )
                hashed.update(chunk)
                out.write(chunk)
            if total < size and answer.length:  # closed before all announced bytes came
                raise ConnectionResetError(f"blob {digest}: the connection closed at {total}")
            if total != size or f"sha256:{hashed.hexdigest()}" != digest:
                raise self._fail(registry, f"{registry}/{repository}: blob {digest} does not match")

        self.request(
            registry,
            "GET",
            f"/v2/{repository}/blobs/{digest}",
            [scope(repository, ["pull"])],
            sink=sink,
            download=size,
        )

    def upload_blob(
        self,
        registry: str,
        repository: str,
        digest: str,
        size: int,
        opener: Callable[[], BinaryIO],
        mount_from: Iterable[str] = (),
    ) -> str:
        """Make `digest` exist in `repository`: already there, mounted from another repository
        of the registry, or uploaded (one PUT). Returns how: "exists", "mounted", "uploaded"."""
        if self.blob_exists(registry, repository, digest):
            return "exists"
        push = scope(repository, ["pull", "push"])
        location = ""
        for source in mount_from:
            if source == repository:
                continue
            query = urllib.parse.urlencode({"mount": digest, "from": source})
            started = self.request(
                registry,
                "POST",
                f"/v2/{repository}/blobs/uploads/?{query}",
                [push, scope(source, ["pull"])],
                expect=(201, 202),
            )
            if started.status == 201:
                return "mounted"
            location = started.header("location")
            break
        if not location:
            started = self.request(
                registry,
                "POST",
                f"/v2/{repository}/blobs/uploads/",
                [push],
                expect=(202,),
            )
            location = started.header("location")
        if not location:
            raise self._fail(registry, f"{registry}/{repository}: upload started without Location")
        endpoint = self.endpoint(registry)
        base = f"{endpoint.scheme}://{registry}/v2/{repository}/blobs/uploads/"
        target = urllib.parse.urljoin(base, location)
        separator = "&" if "?" in target else "?"
        target += separator + urllib.parse.urlencode({"digest": digest})
        self.request(
            registry,
            "PUT",
            target,
            [push],
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            body=opener,
            expect=(201,),
        )
        return "uploaded"

    def put_manifest(
        self, registry: str, repository: str, reference: str, body: bytes, media_type: str
    ) -> str:
        """PUT a manifest or index under a tag or its own digest; returns its digest."""
        digest = sha256_digest(body)
        response = self.request(
            registry,
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            [scope(repository, ["pull", "push"])],
            headers={"Content-Type": media_type},
            body=body,
            expect=(201,),
        )
        returned = response.header("docker-content-digest")
        if returned and returned != digest:
            raise self._fail(
                registry, f"{registry}/{repository}: the registry stored {returned}, not {digest}"
            )
        return digest

    def config_digest(self, registry: str, repository: str, digest: str) -> str:
        """The config digest (image ID) of the image manifest `digest`."""
        manifest = self.manifest(registry, repository, digest, IMAGE_MANIFESTS)
        return self.config_digest_of(registry, repository, manifest)

    def config_digest_of(self, registry: str, repository: str, manifest: Manifest) -> str:
        """The config digest (image ID) of an image manifest read from `repository`."""
        try:
            config = manifest.json().get("config")
        except ValueError:
            config = None
        value = config.get("digest") if isinstance(config, dict) else None
        if not isinstance(value, str) or not value.startswith("sha256:"):
            raise self._fail(
                registry, f"{registry}/{repository}@{manifest.digest} has no config digest"
            )
        return value

    def pull_manifest(self, registry: str, repository: str, reference: str) -> Manifest:
        """`manifest` for pulls: Docker Hub references try each registry mirror first, as the
        executor does, then Docker Hub itself."""
        return self.pull_source(registry, repository, reference)[2]

    def pull_source(
        self, registry: str, repository: str, reference: str
    ) -> tuple[str, str, Manifest]:
        """`pull_manifest`, with the registry and repository it came from (a mirror's, for
        Docker Hub), where the image's blobs are then read."""
        if registry == DOCKER_HUB:
            for mirror in self.trust.mirrors:
                host, _, prefix = mirror.partition("/")
                name = f"{prefix.strip('/')}/{repository}" if prefix.strip("/") else repository
                try:
                    return host, name, self.manifest(host, name, reference)
                except RegistryRequestError:
                    continue
        return registry, repository, self.manifest(registry, repository, reference)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _retry_after(response: Response, default: float) -> float:
    value = response.header("retry-after")
    if value.isdigit():
        return min(float(value), 30.0)
    return default


def _status_text(response: Response) -> str:
    names = {401: "401 Unauthorized", 403: "403 Forbidden", 404: "404 Not Found"}
    text = names.get(response.status, f"HTTP {response.status}")
    detail = _error_detail(response.body)
    return f"{text}: {detail}" if detail else text


def _error_detail(body: bytes) -> str:
    """The registry's own error codes and messages (`{"errors": [...]}`), if any."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for item in errors[:3]:
        if isinstance(item, dict):
            parts.append(f"{item.get('code', '')}: {item.get('message', '')}".strip(": "))
    return "; ".join(parts)


def _describe(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS: {error.verify_message or error.reason}"
    if isinstance(error, ssl.SSLError):
        return f"TLS: {error.reason or error}"
    return str(error) or type(error).__name__
