"""Shared fixtures: executors, the test registry, base images, and the action harness."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support.action import ActionHarness
from .support.images import PYTHON_PACKAGES, default_cache_dir, push_busybox, push_debian
from .support.registry import Registry

EXECUTORS = {"upstream": "upstream-v1.24.0", "fork": "fork-v1.27.5"}


def executors_root() -> Path:
    configured = os.environ.get("KANIKO_BUILD_EXECUTORS")
    if configured:
        return Path(configured)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "kaniko-build" / "executors"


def executor_dir(kind: str) -> Path:
    path = executors_root() / EXECUTORS[kind] / "kaniko"
    if not (path / "executor").is_file():
        pytest.fail(
            f"no {kind} kaniko executor at {path}: run scripts/install-executors.sh first",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry.start(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture(scope="session")
def busybox_image(registry: Registry) -> str:
    push_busybox(registry, "base/busybox", "latest")
    return registry.ref("base/busybox", "latest")


@pytest.fixture(scope="session")
def debian_image(registry: Registry) -> str:
    push_debian(registry, default_cache_dir(), "base/debian", "bookworm")
    return registry.ref("base/debian", "bookworm")


@pytest.fixture(scope="session")
def debian_python_image(registry: Registry) -> str:
    """Debian with python3 (and sudo: the runner image's stand-in shares the debootstrap)."""
    push_debian(registry, default_cache_dir(), "base/debian-python", "bookworm", PYTHON_PACKAGES)
    return registry.ref("base/debian-python", "bookworm")


@pytest.fixture(params=["upstream", "fork"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> ActionHarness:
    workspace = tmp_path / "workspace"
    runner_temp = tmp_path / "runner-temp"
    workspace.mkdir()
    runner_temp.mkdir()
    return ActionHarness(workspace, runner_temp, executor_dir(str(request.param)))
