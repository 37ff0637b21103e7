"""What is secret, in one place: every value the action registers with the runner as a log
mask (`::add-mask::`) before anything of the build can print it.

Masked: the `password` input (as given, and as the base64 `user:password` a docker config
holds), every credential of the docker config the executor gets, the credential helpers'
secret variables, the build secrets (`secrets`, `secret-envs`, and `secret-files` that are text
of a reasonable size), and build arguments whose names say they are secret. A credential
helper's answer is masked by the code that receives it (registry/helpers.py), through the
same `mask` function.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping

from ..spec.build_spec import BuildSpec
from ..spec.secrets import BuildSecret

SECRET_NAME = re.compile(r"(?i)(token|secret|passw|pwd|credential|auth|private|api_?key)")
# Variables of kaniko's credential helpers that hold a secret rather than a name or a path.
HELPER_SECRET_VARIABLES = frozenset(
    {
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AZURE_CLIENT_SECRET",
    }
)
# Larger secret files are still passed to the build, but not registered as log masks.
MASK_LIMIT_BYTES = 64 * 1024


def secret_texts(secrets: tuple[BuildSecret, ...], env: Mapping[str, str]) -> Iterator[str]:
    """Every build secret's text (files too, when they are text and not huge)."""
    for secret in secrets:
        try:
            if secret.kind == "file" and os.path.getsize(secret.source) > MASK_LIMIT_BYTES:
                continue
            data = secret.value(env)
        except OSError:
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if text.strip():
            yield text


def build_masks(
    spec: BuildSpec,
    env: Mapping[str, str],
    config_secrets: Iterable[str],
    helper_variables: Mapping[str, str],
) -> list[str]:
    """Everything of one build's inputs and credentials to mask, in the order found."""
    found: list[str] = list(secret_texts(spec.secrets, env))
    if spec.login is not None:
        found += [spec.login.password, spec.login.auth]
    found += config_secrets
    found += [v for k, v in helper_variables.items() if k in HELPER_SECRET_VARIABLES]
    found += [value for name, value in spec.build_args if value and SECRET_NAME.search(name)]
    return found
