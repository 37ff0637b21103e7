"""The docker config (registry credentials) the executor reads inside the chroot."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def runner_docker_config_path(env: Mapping[str, str]) -> Path | None:
    """`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, if it exists."""
    base = env.get("DOCKER_CONFIG")
    if base:
        candidate = Path(base) / "config.json"
    else:
        candidate = Path(env.get("HOME") or os.path.expanduser("~")) / ".docker" / "config.json"
    return candidate if candidate.is_file() else None


def load_runner_config(env: Mapping[str, str]) -> dict[str, Any]:
    """The runner's docker config entries kaniko understands (auths, credHelpers)."""
    path = runner_docker_config_path(env)
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: data[k] for k in ("auths", "credHelpers", "credsStore") if k in data}


def write_docker_config(directory: Path, config: Mapping[str, Any]) -> Path:
    """Write config.json readable by root only."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    path = directory / "config.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(dict(config), f)
    os.chmod(path, 0o600)
    return path
