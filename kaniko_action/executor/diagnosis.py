"""Registry failures in kaniko's words -> what happened, which registry, and what to do; and
RUN steps that failed for want of /proc."""

from __future__ import annotations

import re
from collections.abc import Iterable

_URL_HOST = re.compile(r"https?://([^/\s\"']+)/")
_DIAL_HOST = re.compile(r"dial tcp:? (?:lookup )?([^\s:]+(?::\d+)?)")
_QUOTED_REF = re.compile(r"\"([a-z0-9.-]+(?::\d+)?)/[^\"]+\"")

# (pattern, explanation) in order of precedence; {registry} is filled in.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"server gave HTTP response to HTTPS client|WRONG_VERSION_NUMBER"),
        "registry {registry} speaks plain HTTP: list it in 'insecure-registries'",
    ),
    (
        re.compile(
            r"certificate signed by unknown authority|failed to verify certificate|"
            r"unable to get local issuer certificate|self[- ]signed certificate"
        ),
        "registry {registry} presented a TLS certificate from an unknown CA: give its CA with "
        "'registry-certificates: {registry}=path/to/ca.pem' (or, for a test registry only, "
        "'skip-tls-verify-registries')",
    ),
    (
        re.compile(r"certificate is valid for|certificate is not valid for"),
        "registry {registry}'s TLS certificate does not name it: use the host name the "
        "certificate was issued for",
    ),
    (
        re.compile(
            r"tls: certificate required|tls: bad certificate|tls: unknown certificate|"
            r"ALERT_CERTIFICATE_REQUIRED|ALERT_BAD_CERTIFICATE|ALERT_UNKNOWN_CA"
        ),
        "registry {registry} requires a TLS client certificate: give one with "
        "'registry-client-certs: {registry}=cert.pem,key.pem'",
    ),
    (
        # TLS 1.3 servers reject a missing client certificate after the handshake, which the
        # client sees as a dropped connection.
        re.compile(
            r"(?i)broken pipe|connection reset by peer|client conn could not be established|"
            r"UNEXPECTED_EOF_WHILE_READING|EOF occurred in violation of protocol"
        ),
        "registry {registry} dropped the connection: if it requires a TLS client certificate, "
        "give one with 'registry-client-certs: {registry}=cert.pem,key.pem'",
    ),
    (
        re.compile(r"UNAUTHORIZED|401 Unauthorized|authentication required|unauthorized:"),
        "registry {registry} rejected the credentials (401): check 'username' and 'password' "
        "(or the docker/login-action step) for {registry}",
    ),
    (
        re.compile(r"DENIED|403 Forbidden|denied:|requested access to the resource is denied"),
        "registry {registry} denied access (403): the credentials are valid but may not push "
        "to this repository; grant write access or use a repository they may push to",
    ),
    (
        re.compile(
            r"(?i)connection refused|no such host|i/o timeout|network is unreachable|"
            r"no route to host|context deadline exceeded|name or service not known|"
            r"temporary failure in name resolution|timed out"
        ),
        "registry {registry} is unreachable from the runner: check the host name, port and "
        "network (the build uses the runner's DNS and /etc/hosts)",
    ),
)


def registry_in(text: str) -> str | None:
    for pattern in (_URL_HOST, _DIAL_HOST, _QUOTED_REF):
        match = pattern.search(text)
        if match:
            return match.group(1)
    return None


def explain(text: str, fallback_registry: str | None = None) -> str | None:
    """A sentence naming the registry and the likely fix, or None when not a registry error."""
    for pattern, explanation in _RULES:
        if pattern.search(text):
            registry = registry_in(text) or fallback_registry or "(unknown)"
            return explanation.format(registry=registry)
    return None


# A path under /proc or /dev/fd in a message saying it is not there: busybox's `can't open
# '/proc/...'`, `no /proc/mounts`, bash's `/dev/fd/63: No such file or directory`, Python's
# and Go's `no such file or directory: '/proc/self/...'`.
_PROC_PATH = re.compile(r"(/proc(?:/[^\s'\"`:,;()\]\[]*)?|/dev/fd(?:/[^\s'\"`:,;()]*)?)")
_NOT_THERE = re.compile(
    r"(?i)no such file|can't open|cannot open|could not open|not found|no /proc|not mounted|"
    r"cannot access|does not exist|ENOENT"
)


def missing_proc_path(lines: Iterable[str]) -> str | None:
    """The /proc or /dev/fd path a RUN step's output says is missing (the last one), or
    None."""
    for line in reversed(list(lines)):
        match = _PROC_PATH.search(line)
        if match and _NOT_THERE.search(line):
            return match.group(1)
    return None
