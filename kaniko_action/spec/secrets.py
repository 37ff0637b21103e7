"""Build secrets: build-push-action's `secrets` (`id=value`), `secret-files` (`id=path`) and
`secret-envs` (`id=ENV_NAME`) inputs. Parsing and validation; the executor's `--secret` flags
are executor/argv.py's, staging the files is staging/secrets.py's.

Errors name the input and the line, never a value: a malformed line may hold a secret.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import InputError
from .inputs import parse_list
from .paths import SECRET_FILE_LIMIT, input_file, read_input

SecretKind = Literal["value", "file", "env"]
FORK = (
    "the maintained kaniko executor (osscontainertools/kaniko), which adds --secret and "
    "RUN --mount=type=secret"
)
# The fork's executor image, and the runner image's (Dockerfile) build argument choosing it.
FORK_IMAGE = "ghcr.io/osscontainertools/kaniko"
EXECUTOR_IMAGE_ARG = "EXECUTOR_IMAGE"
# kaniko writes a secret to /run/secrets/<id> and keeps a copy under its own directory by id,
# and splits --secret on ',' and '=': an id is a plain file name.
_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class BuildSecret:
    id: str
    kind: SecretKind
    # The value itself ("value"), the runner file ("file") or the variable's name ("env").
    source: str = field(repr=False)

    def value(self, env: Mapping[str, str]) -> bytes:
        """The secret's content (`env`: the action's environment, for `secret-envs`)."""
        if self.kind == "value":
            return self.source.encode("utf-8")
        if self.kind == "env":
            return env.get(self.source, "").encode("utf-8")
        return read_input(
            "secret-files", f"id '{self.id}': the file", Path(self.source), SECRET_FILE_LIMIT
        )


def records(value: str) -> list[tuple[int, str]]:
    """build-push-action's list parsing for these inputs: CSV records (a quoted field may hold
    commas and newlines, `""` is a quote), fields joined back with commas, blank records
    dropped. Each record comes with the line it starts on."""
    # The csv module refuses fields over its (process-wide) size limit; a secret may be larger.
    csv.field_size_limit(max(csv.field_size_limit(), len(value) + 1))
    reader = csv.reader(io.StringIO(value), strict=False)
    found: list[tuple[int, str]] = []
    start = 1
    try:
        for row in reader:
            text = ",".join(row)
            if text.strip():
                found.append((start, text))
            start = reader.line_num + 1
    except csv.Error:
        return [(start, "")]
    return found


def _split(name: str, line: int, text: str) -> tuple[str, str]:
    key, sep, rest = text.strip().partition("=")
    key = key.strip()
    if not sep:
        raise InputError(name, f"line {line} is not of the form id=... (no '=')")
    if not _ID.match(key):
        raise InputError(
            name,
            f"line {line}: the id before '=' must be 1 to 128 letters, digits, '_', '.' or '-' "
            "(not starting with '.' or '-')",
        )
    return key, rest


def parse_secrets(
    raw: Mapping[str, str],
    workspace: Path,
    env: Mapping[str, str],
    runner_temp: Path | None = None,
) -> tuple[BuildSecret, ...]:
    """The three secret inputs, validated; ids are unique across them. A secret file is a
    regular file of at most 500 KiB inside the workspace or `runner_temp`."""
    found: list[BuildSecret] = []
    seen: dict[str, str] = {}

    def add(name: str, line: int, secret: BuildSecret) -> None:
        if secret.id in seen:
            raise InputError(
                name, f"line {line}: id '{secret.id}' is also given in '{seen[secret.id]}'"
            )
        seen[secret.id] = name
        found.append(secret)

    for line, text in records(raw.get("secrets", "")):
        key, value = _split("secrets", line, text)
        add("secrets", line, BuildSecret(key, "value", value))
    for line, text in records(raw.get("secret-files", "")):
        key, value = _split("secret-files", line, text)
        path = value.strip()
        if not path:
            raise InputError("secret-files", f"line {line}: no path after '{key}='")
        found_path = input_file(
            "secret-files",
            f"line {line} (id '{key}'): the file",
            workspace,
            path,
            runner_temp,
            SECRET_FILE_LIMIT,
            show=False,
        )
        add("secret-files", line, BuildSecret(key, "file", str(found_path)))
    for line, text in enumerate(parse_list(raw.get("secret-envs", "")), start=1):
        key, value = _split("secret-envs", line, text)
        variable = value.strip()
        if not _ENV_NAME.match(variable):
            raise InputError(
                "secret-envs", f"entry {line}: '{variable}' is not an environment variable name"
            )
        if variable not in env:
            raise InputError(
                "secret-envs", f"entry {line}: environment variable {variable} is not set"
            )
        add("secret-envs", line, BuildSecret(key, "env", variable))
    return tuple(found)


def without_secret_support(version: str | None) -> str:
    """The refusal for an executor without --secret (the archived upstream's last release,
    v1.24.0): what it lacks, and the two ways to switch to the fork."""
    return (
        f"build secrets need {FORK}; the executor in 'executor-dir' "
        f"({version or 'unknown version'}) has no --secret. To switch: build the runner "
        f"image from this repository's Dockerfile with its build argument "
        f"{EXECUTOR_IMAGE_ARG} left at its default (or set to a {FORK_IMAGE}:<version> "
        f"image), or copy /kaniko out of a {FORK_IMAGE} image onto the runner and set the "
        "'executor-dir' input to that directory"
    )


def secret_input(secrets: tuple[BuildSecret, ...]) -> str:
    """The input a refusal names: the first one that holds a secret."""
    kinds = {s.kind for s in secrets}
    for kind, name in (("value", "secrets"), ("file", "secret-files"), ("env", "secret-envs")):
        if kind in kinds:
            return name
    return "secrets"
