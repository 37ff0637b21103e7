"""Registry authentication, the pure part: `WWW-Authenticate` challenges, token scopes, and
which credential a docker config gives a registry. No network, no files, no processes.

The rules follow what the executor does (go-containerregistry on top of the docker CLI's config
code): a `credHelpers` entry for the registry wins, then `credsStore`, then `auths`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..spec.references import DOCKER_HUB_HOSTS, DOCKER_HUB_KEY
from .credentials import config_key


@dataclass(frozen=True)
class Challenge:
    """One challenge of a `WWW-Authenticate` header: `Bearer realm="...",service="..."`."""

    scheme: str  # lower case: "basic", "bearer", ...
    params: Mapping[str, str]

    def get(self, name: str) -> str:
        return self.params.get(name, "")


_TOKEN = re.compile(r"[^\s,=\"]+")


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens, quoted strings (unescaped), `=` and `,` of a header value."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in ",=":
            out.append((char, char))
            i += 1
        elif char == '"':
            value: list[str] = []
            i += 1
            while i < len(text) and text[i] != '"':
                if text[i] == "\\" and i + 1 < len(text):
                    i += 1
                value.append(text[i])
                i += 1
            out.append(("str", "".join(value)))
            i += 1
        else:
            match = _TOKEN.match(text, i)
            assert match is not None
            out.append(("tok", match.group(0)))
            i = match.end()
    return out


def parse_challenges(header: str) -> list[Challenge]:
    """The challenges of a `WWW-Authenticate` value (RFC 7235), parameters unquoted and their
    names lower-cased. A token not followed by `=` starts a new challenge."""
    tokens = _lex(header)
    challenges: list[Challenge] = []
    params: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        followed_by_equals = i + 1 < len(tokens) and tokens[i + 1][0] == "="
        if kind == "tok" and not followed_by_equals:
            params = {}
            challenges.append(Challenge(value.lower(), params))
            i += 1
        elif kind == "tok" and challenges:
            if i + 2 < len(tokens) and tokens[i + 2][0] in ("tok", "str"):
                params[value.lower()] = tokens[i + 2][1]
                i += 3
            else:
                params[value.lower()] = ""
                i += 2
        else:
            i += 1
    return challenges


def pick_challenge(challenges: Iterable[Challenge]) -> Challenge | None:
    """Bearer when offered (as the executor prefers it), else Basic."""
    found = {c.scheme: c for c in challenges}
    return found.get("bearer") or found.get("basic")


def scope(repository: str, actions: Iterable[str]) -> str:
    """`repository:NAME:pull,push` with the actions in a fixed order."""
    order = {"pull": 0, "push": 1, "delete": 2}
    wanted = sorted(set(actions), key=lambda a: (order.get(a, 9), a))
    return f"repository:{repository}:{','.join(wanted)}"


def merge_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Scopes with the actions for one repository combined, other scopes kept as they are."""
    repos: dict[str, set[str]] = {}
    others: list[str] = []
    for item in scopes:
        parts = item.split(":")
        if len(parts) >= 3 and parts[0] == "repository":
            name = ":".join(parts[1:-1])
            repos.setdefault(name, set()).update(a for a in parts[-1].split(",") if a)
        elif item and item not in others:
            others.append(item)
    return tuple(sorted(scope(name, actions) for name, actions in repos.items())) + tuple(others)


# -------------------------------------------------------------- docker config credentials

CredentialKind = Literal["anonymous", "basic", "identity-token", "registry-token", "helper"]


@dataclass(frozen=True)
class ConfigCredential:
    """What a docker config says about one registry."""

    kind: CredentialKind
    username: str = ""
    secret: str = field(default="", repr=False)
    helper: str = ""
    server: str = ""  # the key the helper is asked about

    @property
    def basic(self) -> tuple[str, str] | None:
        return (self.username, self.secret) if self.kind == "basic" else None


ANONYMOUS = ConfigCredential("anonymous")
# A helper answers "<token>" as the user name when the secret is an identity (refresh) token.
IDENTITY_TOKEN_USER = "<token>"


def hostname_of(key: str) -> str:
    """A docker config key as a host name: scheme and path dropped (the CLI's rule)."""
    for prefix in ("http://", "https://"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
            break
    return key.split("/", 1)[0]


def _lookup_key(registry: str) -> str:
    return config_key(registry)


def _find(entries: Mapping[str, Any], registry: str) -> Any:
    key = _lookup_key(registry)
    if key in entries:
        return entries[key]
    wanted = hostname_of(key)
    for name, entry in entries.items():
        if hostname_of(str(name)) == wanted:
            return entry
    if key == DOCKER_HUB_KEY:
        for name, entry in entries.items():
            if hostname_of(str(name)) in DOCKER_HUB_HOSTS:
                return entry
    return None


def decode_auth(value: str) -> tuple[str, str] | None:
    """`base64(user:password)` -> (user, password); None when it is not that."""
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, sep, password = text.partition(":")
    return (user, password) if sep else None


def entry_credential(entry: Mapping[str, Any]) -> ConfigCredential:
    """An `auths` entry -> credential (identity token, registry token, or user/password)."""
    user, password = "", ""
    if entry.get("auth"):
        pair = decode_auth(str(entry["auth"]))
        if pair is not None:
            user, password = pair
    elif entry.get("username"):
        user, password = str(entry.get("username")), str(entry.get("password") or "")
    if entry.get("registrytoken"):
        return ConfigCredential("registry-token", user, str(entry["registrytoken"]))
    if entry.get("identitytoken"):
        return ConfigCredential("identity-token", user, str(entry["identitytoken"]))
    if user or password:
        return ConfigCredential("basic", user, password)
    return ANONYMOUS


def config_credential(config: Mapping[str, Any], registry: str) -> ConfigCredential:
    """The credential the executor would use for `registry` (`host[:port]`)."""
    helpers = config.get("credHelpers") or {}
    key = _lookup_key(registry)
    helper = helpers.get(key) or helpers.get(registry)
    if helper:
        return ConfigCredential("helper", helper=str(helper), server=key)
    store = config.get("credsStore")
    if store:
        return ConfigCredential("helper", helper=str(store), server=key)
    entry = _find(config.get("auths") or {}, registry)
    if isinstance(entry, Mapping):
        return entry_credential(entry)
    return ANONYMOUS


def helper_answer(output: str) -> ConfigCredential:
    """A credential helper's `get` answer (`{"Username": ..., "Secret": ...}`)."""
    try:
        data = json.loads(output)
    except ValueError:
        return ANONYMOUS
    if not isinstance(data, dict):
        return ANONYMOUS
    user, secret = str(data.get("Username") or ""), str(data.get("Secret") or "")
    if not secret:
        return ANONYMOUS
    if user == IDENTITY_TOKEN_USER:
        return ConfigCredential("identity-token", "", secret)
    return ConfigCredential("basic", user, secret)
