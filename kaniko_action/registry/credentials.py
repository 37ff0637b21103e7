"""Registry credentials for the executor: the docker config it reads inside the chroot, and
the environment and files kaniko's bundled credential helpers need.

Credentials are only ever written inside the chroot (mode 0600) and passed through files and
the executor's environment, never on a command line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ActionError
from ..sandbox.kaniko_files import helper_program
from ..spec.login import Login
from ..spec.references import DOCKER_HUB_KEY, DOCKER_HUB_NAMES
from ..utils.fs import write_private

# Variables kaniko's credential helpers (ecr-login, gcr, acr-env) read, and which of them
# name a file the helper opens.
HELPER_VARIABLES = (
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_STS_REGIONAL_ENDPOINTS",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_ECR_DISABLE_CACHE",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "CLOUDSDK_CORE_PROJECT",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
)
FILE_VARIABLES = frozenset(
    {
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "AZURE_FEDERATED_TOKEN_FILE",
    }
)


def config_key(registry: str) -> str:
    """The key docker config uses for a registry (Docker Hub has a URL of its own)."""
    return DOCKER_HUB_KEY if registry in DOCKER_HUB_NAMES else registry


def runner_docker_config_path(env: Mapping[str, str]) -> Path | None:
    """`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, if it exists."""
    base = env.get("DOCKER_CONFIG")
    if base:
        candidate = Path(base) / "config.json"
    else:
        candidate = Path(env.get("HOME") or os.path.expanduser("~")) / ".docker" / "config.json"
    return candidate if candidate.is_file() else None


@dataclass(frozen=True)
class RunnerConfig:
    """The runner's docker config, and why it is not used when it is not."""

    content: Mapping[str, Any]
    warning: str | None = None


def load_runner_config(env: Mapping[str, str]) -> RunnerConfig:
    """The runner's docker config (as docker/login-action or `docker login` wrote it). One
    that cannot be read is ignored with a warning naming the file and where it is wrong,
    never its content (it holds credentials)."""
    path = runner_docker_config_path(env)
    if path is None:
        return RunnerConfig({})
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        why = f"is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})"
    except UnicodeDecodeError:
        why = "is not UTF-8 text"
    except OSError as e:
        why = f"cannot be read ({e.strerror or e})"
    else:
        if isinstance(data, dict):
            return RunnerConfig(data)
        why = "is not a JSON object"
    return RunnerConfig({}, f"the docker config {path} {why}: its credentials are not used")


@dataclass
class DockerConfig:
    content: dict[str, Any]
    warnings: list[str]
    secrets: list[str]


def merge_config(
    runner: Mapping[str, Any], login: Login | None, helpers: Iterable[str]
) -> DockerConfig:
    """The runner's auths and usable helpers, with the login inputs on top (inputs win).

    `helpers` are the credential-helper names present in the chroot (`ecr-login`, ...). A
    helper the chroot lacks would make kaniko fail for its registries; it is dropped with a
    warning that names them.
    """
    available = set(helpers)
    warnings: list[str] = []
    auths: dict[str, Any] = {}
    for registry, entry in (runner.get("auths") or {}).items():
        if isinstance(entry, dict) and (entry.get("auth") or entry.get("identitytoken")):
            auths[str(registry)] = {
                k: entry[k] for k in ("auth", "identitytoken", "registrytoken") if k in entry
            }
    cred_helpers: dict[str, str] = {}
    for registry, helper in (runner.get("credHelpers") or {}).items():
        if helper in available:
            cred_helpers[str(registry)] = str(helper)
        else:
            warnings.append(
                f"registry {registry}: credential helper {helper_program(helper)} is not "
                "available to kaniko; its credentials are not used (log in with the "
                "'username'/'password' inputs instead)"
            )
    store = runner.get("credsStore")
    content: dict[str, Any] = {}
    if store:
        if store in available:
            content["credsStore"] = store
        else:
            warnings.append(
                f"credential store {helper_program(store)} is not available to kaniko; "
                "registries whose credentials it holds get none (log in with the "
                "'username'/'password' inputs instead)"
            )
    if login is not None:
        key = config_key(login.registry)
        auths[key] = {"auth": login.auth}
        cred_helpers.pop(login.registry, None)
        cred_helpers.pop(key, None)
    content["auths"] = auths
    if cred_helpers:
        content["credHelpers"] = cred_helpers
    secrets = [
        str(e.get(k))
        for e in auths.values()
        for k in ("auth", "identitytoken", "registrytoken")
        if e.get(k)
    ]
    return DockerConfig(content=content, warnings=warnings, secrets=secrets)


def helpers_in_use(content: Mapping[str, Any]) -> frozenset[str]:
    """The credential helpers a merged docker config makes kaniko run."""
    named = [*(content.get("credHelpers") or {}).values(), content.get("credsStore")]
    return frozenset(str(h) for h in named if h)


@dataclass(frozen=True)
class HelperEnvironment:
    variables: dict[str, str]
    files: tuple[Path, ...]


def _chroot_file_path(name: str, value: str, reserved: Iterable[PurePosixPath]) -> str:
    """The normalised absolute path a helper file gets inside the chroot (the same as on the
    runner); refused when it climbs with `..` or lands on what the sandbox itself places."""
    raw = PurePosixPath(value)
    if ".." in raw.parts:
        raise ActionError(
            f"{name}={value}: the path contains '..'; give the file's plain absolute path"
        )
    # normpath keeps a leading "//" (POSIX leaves its meaning open): one slash is meant.
    path = PurePosixPath("/" + os.path.normpath(value).lstrip("/"))
    for taken in reserved:
        if path == taken or taken in path.parents or path in taken.parents:
            raise ActionError(
                f"{name}={value}: the path is one the build sandbox uses itself ({taken}); "
                "keep the file somewhere else"
            )
    return str(path)


def helper_environment(
    env: Mapping[str, str], reserved: Iterable[PurePosixPath] = ()
) -> HelperEnvironment:
    """The credential helpers' variables that are set, and the existing files they name.

    Those files are copied to the same path inside the chroot, so the path must be a plain
    absolute one outside the paths in `reserved` (the sandbox's own).
    """
    variables = {name: env[name] for name in HELPER_VARIABLES if env.get(name)}
    files: list[Path] = []
    for name in sorted(FILE_VARIABLES & variables.keys()):
        if not variables[name].startswith("/"):
            continue
        path = Path(_chroot_file_path(name, variables[name], tuple(reserved)))
        if path.is_file():
            variables[name] = str(path)
            files.append(path)
    return HelperEnvironment(variables, tuple(files))


def write_docker_config(directory: Path, config: Mapping[str, Any]) -> Path:
    """Write config.json readable by root only."""
    path = directory / "config.json"
    write_private(path, json.dumps(dict(config)).encode("utf-8"))
    os.chmod(directory, 0o700)
    return path
