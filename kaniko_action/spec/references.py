"""Image references: validation and the registry host they point at."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InputError

# Docker Hub: the registry name references resolve to, the host names that mean it, and the
# key docker config files use for it (with the spellings of that key found in the wild).
DOCKER_HUB = "index.docker.io"
DOCKER_HUB_HOSTS = frozenset({"docker.io", DOCKER_HUB, "registry-1.docker.io"})
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
DOCKER_HUB_NAMES = DOCKER_HUB_HOSTS | {
    "registry.hub.docker.com",
    DOCKER_HUB_KEY,
    "https://index.docker.io/v1",
    "https://docker.io",
}

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}"
# The distribution grammar's character classes are ASCII (re.ASCII keeps `\w`-like classes
# from admitting other scripts); `\Z`, unlike `$`, does not match before a final newline.
_REFERENCE = re.compile(
    rf"^(?:(?P<host>{_HOST})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?\Z",
    re.ASCII,
)
_HOSTPORT = re.compile(rf"^{_HOST}\Z", re.ASCII)


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """Repository with its registry, without tag or digest, as users wrote it."""
        if self.registry == DOCKER_HUB:
            return self.repository
        return f"{self.registry}/{self.repository}"


def _looks_like_host(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost" or part.startswith("[")


def parse_reference(input_name: str, value: str) -> Reference:
    """Parse `[registry/]repository[:tag][@digest]`, raising an error that names the input."""
    first, slash, _rest = value.partition("/")
    match = _REFERENCE.match(value)
    if match is None or (match.group("host") is None and slash and _looks_like_host(first)):
        raise InputError(input_name, f"'{value}' is not a valid image reference")
    host = match.group("host")
    path = match.group("path")
    if host is not None and not _looks_like_host(host):
        # "org/app" style: the first component is part of the path, not a registry.
        path = f"{host}/{path}"
        host = None
        if not re.fullmatch(rf"{_COMPONENT}(?:/{_COMPONENT})*", path, re.ASCII):
            raise InputError(input_name, f"'{value}' is not a valid image reference")
    if not 2 <= len(path) <= 255:
        # kaniko (go-containerregistry) refuses these only when it is about to push.
        raise InputError(
            input_name, f"'{value}': the repository path must be 2 to 255 characters long"
        )
    registry = host or DOCKER_HUB
    if registry == "docker.io":  # as go-containerregistry rewrites it
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return Reference(registry, path, match.group("tag"), match.group("digest"))


def check_registry_host(input_name: str, value: str) -> str:
    """A `host[:port]` entry as kaniko's per-registry flags take it."""
    if not _HOSTPORT.match(value):
        raise InputError(input_name, f"'{value}' is not a registry host (host or host:port)")
    return value
