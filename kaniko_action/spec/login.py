"""The `registry`, `username` and `password` inputs: one login the action adds to the
runner's docker config for the build."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import InputError
from .references import Reference, check_registry_host


@dataclass(frozen=True)
class Login:
    """The `registry`, `username` and `password` inputs."""

    registry: str
    username: str
    password: str = field(repr=False)

    @property
    def auth(self) -> str:
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


def parse_login(raw: Mapping[str, str], references: Sequence[Reference]) -> Login | None:
    username, password = raw["username"], raw["password"]
    registry = raw["registry"].rstrip("/")
    if registry.startswith("https://"):
        registry = registry[len("https://") :]
    if not username and not password:
        if registry:
            raise InputError("registry", "is set but 'username' and 'password' are empty")
        return None
    if not password:
        raise InputError("password", "is empty while 'username' is set")
    if not username:
        raise InputError("username", "is empty while 'password' is set")
    if registry:
        check_registry_host("registry", registry)
    elif references:
        registry = references[0].registry
    else:
        raise InputError("registry", "is needed: there is no destination to take it from")
    return Login(registry=registry, username=username, password=password)
